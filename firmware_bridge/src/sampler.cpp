/*
 * sampler.cpp - ESP32 hardware timer + sampling task (see sampler.h).
 *
 * Works with the Arduino-ESP32 core 2.x and 3.x timer APIs (they differ; both are used through
 * the small start_timer/stop_timer pair below). All ADC reads happen in the sampling task, so the
 * ADC is never used from two tasks at once while streaming (the battery is read there too).
 */
#include "sampler.h"

#include <Arduino.h>
#include <esp_arduino_version.h>

#include "bridge_config.h"
#include "emg_control.h"

namespace {

const uint8_t kPins[] = BRIDGE_EMG_PINS;
static_assert(BRIDGE_N_CHANNELS >= 1 && BRIDGE_N_CHANNELS <= sizeof(kPins),
              "BRIDGE_N_CHANNELS needs one pin per channel in BRIDGE_EMG_PINS");

emg_ring_t *s_ring = nullptr;
hw_timer_t *s_timer = nullptr;
TaskHandle_t s_task = nullptr;
SemaphoreHandle_t s_lock = nullptr; /* held by the task while it handles one tick */
volatile bool s_running = false;
volatile uint32_t s_next_index = 0;
volatile bool s_lead_off = false;
volatile uint8_t s_battery = 0xFF;
uint16_t s_rate_hz = BRIDGE_DEFAULT_RATE_HZ;

void IRAM_ATTR on_tick()
{
    BaseType_t woken = pdFALSE;
    vTaskNotifyGiveFromISR(s_task, &woken);
    if (woken == pdTRUE) {
        portYIELD_FROM_ISR();
    }
}

uint8_t read_battery_percent()
{
#if BRIDGE_BATTERY_PIN >= 0
    long mv = (long)analogReadMilliVolts(BRIDGE_BATTERY_PIN) * BRIDGE_BATTERY_DIVIDER;
    long pct = (mv - BRIDGE_BATTERY_EMPTY_MV) * 100L /
               (BRIDGE_BATTERY_FULL_MV - BRIDGE_BATTERY_EMPTY_MV);
    return (uint8_t)(pct < 0 ? 0 : (pct > 100 ? 100 : pct));
#else
    return 0xFF;
#endif
}

void sampler_task(void *)
{
    uint16_t frame[BRIDGE_N_CHANNELS];
    uint32_t since_battery = 0;
    for (;;) {
        /* number of timer ticks since the last wake-up; more than 1 means the task fell behind */
        uint32_t ticks = ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        xSemaphoreTake(s_lock, portMAX_DELAY);
        if (s_running && ticks > 0) {
            uint32_t index = s_next_index + (ticks - 1u); /* missed ticks are skipped indices */
            for (int c = 0; c < BRIDGE_N_CHANNELS; c++) {
                frame[c] = (uint16_t)analogRead(kPins[c]);
            }
#if BRIDGE_LEAD_OFF_PIN >= 0
            if (digitalRead(BRIDGE_LEAD_OFF_PIN) == HIGH) {
                s_lead_off = true;
            }
#endif
            emg_ring_push(s_ring, index, frame); /* a full ring drops the frame: a gap */
            s_next_index = index + 1u;
            since_battery += ticks;
            if (since_battery >= s_rate_hz) { /* about once a second */
                since_battery = 0;
                s_battery = read_battery_percent();
            }
        }
        xSemaphoreGive(s_lock);
    }
}

void start_timer(uint16_t rate_hz)
{
    uint32_t period_us = EMG_TIMER_HZ / rate_hz;
#if ESP_ARDUINO_VERSION_MAJOR >= 3
    s_timer = timerBegin(EMG_TIMER_HZ);
    timerAttachInterrupt(s_timer, &on_tick);
    timerAlarm(s_timer, period_us, true, 0);
#else
    s_timer = timerBegin(0, 80, true); /* 80 MHz APB clock / 80 = 1 MHz */
    timerAttachInterrupt(s_timer, &on_tick, true);
    timerAlarmWrite(s_timer, period_us, true);
    timerAlarmEnable(s_timer);
#endif
}

void stop_timer()
{
    if (s_timer != nullptr) {
        timerEnd(s_timer);
        s_timer = nullptr;
    }
}

}  // namespace

namespace sampler {

bool begin(emg_ring_t *ring)
{
    s_ring = ring;
    analogReadResolution(12);
#if BRIDGE_LEAD_OFF_PIN >= 0
    pinMode(BRIDGE_LEAD_OFF_PIN, INPUT);
#endif
    s_battery = read_battery_percent();
    s_lock = xSemaphoreCreateMutex();
    if (s_lock == nullptr) {
        return false;
    }
    return xTaskCreatePinnedToCore(sampler_task, "emg_sampler", 4096, nullptr,
                                   BRIDGE_SAMPLER_PRIORITY, &s_task, BRIDGE_SAMPLER_CORE) == pdPASS;
}

bool start(uint16_t rate_hz)
{
    if (s_running || !emg_rate_supported(rate_hz)) {
        return false;
    }
    emg_ring_clear(s_ring); /* the task is idle: s_running is false */
    s_next_index = 0;
    s_lead_off = false;
    s_rate_hz = rate_hz;
    s_running = true;
    start_timer(rate_hz);
    return true;
}

void stop()
{
    s_running = false;
    stop_timer();
    /* wait for a tick that was already being handled */
    xSemaphoreTake(s_lock, portMAX_DELAY);
    xSemaphoreGive(s_lock);
}

bool running()
{
    return s_running;
}

uint32_t now_index()
{
    return s_next_index;
}

bool take_lead_off()
{
    bool seen = s_lead_off;
    s_lead_off = false;
    return seen;
}

uint8_t battery_percent()
{
    if (!s_running) {
        s_battery = read_battery_percent();
    }
    return s_battery;
}

uint16_t measure_zero_code()
{
#if BRIDGE_REF_PIN >= 0
    uint32_t sum = 0;
    for (int k = 0; k < 64; k++) {
        sum += (uint32_t)analogRead(BRIDGE_REF_PIN);
        delay(1);
    }
    return (uint16_t)(sum / 64u);
#else
    return 2048u;
#endif
}

}  // namespace sampler
