/*
 * ble_link.cpp - GATT server and streaming loop (see ble_link.h and PROTOCOL.md).
 *
 * NimBLE runs its host task on core 0; its callbacks only record what happened (a control write
 * goes into a queue, the MTU and subscription into variables). Everything that changes the
 * stream runs in service(), called from the Arduino loop on core 1, so start/stop, the ring's
 * consumer side and the notifications are never touched from two tasks at once.
 */
#include "ble_link.h"

#include <Arduino.h>
#include <NimBLEDevice.h>
#include <string.h>

#include "bridge_config.h"
#include "emg_control.h"
#include "emg_packet.h"
#include "emg_stream.h"
#include "sampler.h"

namespace {

const char *const kServiceUuid = "8e290001-96e9-4175-9cc9-b5dec61aa91c";
const char *const kDataUuid = "8e290002-96e9-4175-9cc9-b5dec61aa91c";
const char *const kControlUuid = "8e290003-96e9-4175-9cc9-b5dec61aa91c";
const char *const kInfoUuid = "8e290004-96e9-4175-9cc9-b5dec61aa91c";

const uint8_t kAdvFlags = 0x06; /* LE general discoverable, BR/EDR not supported */
const uint32_t kBatteryPeriodMs = 10000;
const int kPacketsPerPass = 8;

struct ControlWrite {
    uint8_t len; /* 0xFF: longer than any command */
    uint8_t bytes[8];
};

emg_ring_t *s_ring = nullptr;
NimBLEServer *s_server = nullptr;
NimBLECharacteristic *s_data = nullptr;
NimBLECharacteristic *s_control = nullptr;
NimBLECharacteristic *s_info = nullptr;
NimBLECharacteristic *s_battery = nullptr;
QueueHandle_t s_commands = nullptr;

volatile uint16_t s_mtu = 23;
volatile bool s_subscribed = false;
volatile bool s_disconnected = false;

emg_info_t s_stream_info;
emg_stream_t s_stream;
bool s_streaming = false;
uint16_t s_latency_ms = BRIDGE_DEFAULT_LATENCY_MS;
bool s_lead_off_pending = false;
uint8_t s_last_battery = 0xFF;
uint32_t s_last_battery_ms = 0;

uint16_t s_scratch[EMG_PACKET_MAX_SAMPLES * BRIDGE_N_CHANNELS];
uint8_t s_packet[EMG_PACKET_MAX_SIZE];

class ServerCallbacks : public NimBLEServerCallbacks {
    void onConnect(NimBLEServer *server, NimBLEConnInfo &info) override
    {
        s_mtu = 23;
        /* ask for a 7.5-15 ms connection interval and long link-layer packets */
        server->updateConnParams(info.getConnHandle(), 6, 12, 0, 400);
        server->setDataLen(info.getConnHandle(), 251);
    }

    void onDisconnect(NimBLEServer *, NimBLEConnInfo &, int) override
    {
        s_subscribed = false;
        s_disconnected = true;
    }

    void onMTUChange(uint16_t mtu, NimBLEConnInfo &) override
    {
        s_mtu = mtu;
    }
};

class ControlCallbacks : public NimBLECharacteristicCallbacks {
    void onWrite(NimBLECharacteristic *chr, NimBLEConnInfo &) override
    {
        const NimBLEAttValue &value = chr->getValue();
        ControlWrite write;
        memset(&write, 0, sizeof write);
        if (value.size() > sizeof write.bytes) {
            write.len = 0xFF;
        } else {
            write.len = (uint8_t)value.size();
            memcpy(write.bytes, value.data(), value.size());
        }
        xQueueSend(s_commands, &write, 0);
    }
};

class DataCallbacks : public NimBLECharacteristicCallbacks {
    void onSubscribe(NimBLECharacteristic *, NimBLEConnInfo &, uint16_t sub_value) override
    {
        s_subscribed = (sub_value & 0x0001u) != 0;
    }
};

void publish_info()
{
    uint8_t bytes[EMG_INFO_SIZE];
    s_stream_info.flags = (uint8_t)((BRIDGE_LEAD_OFF_PIN >= 0 ? EMG_INFO_FLAG_LEAD_OFF_WIRED : 0) |
                                    (s_streaming ? EMG_INFO_FLAG_STREAMING : 0));
    emg_info_pack(bytes, &s_stream_info);
    s_info->setValue(bytes, sizeof bytes);
}

void reply(uint8_t opcode, uint8_t status)
{
    uint8_t bytes[2];
    emg_reply_pack(bytes, opcode, status);
    s_control->notify(bytes, sizeof bytes);
}

bool start_stream()
{
    emg_stream_start(&s_stream, BRIDGE_N_CHANNELS);
    s_lead_off_pending = false;
    s_streaming = sampler::start(s_stream_info.rate_hz);
    publish_info();
    return s_streaming;
}

void stop_stream()
{
    sampler::stop();
    s_streaming = false;
    publish_info();
}

void handle(const ControlWrite &write)
{
    emg_command_t cmd;
    uint8_t opcode = (write.len >= 1 && write.len != 0xFF) ? write.bytes[0] : 0;
    uint8_t status = write.len == 0xFF ? (uint8_t)EMG_STATUS_BAD_LENGTH
                                       : emg_command_parse(write.bytes, write.len, &cmd);
    if (status == EMG_STATUS_OK) {
        switch (cmd.opcode) {
        case EMG_CMD_START:
            if (s_streaming) {
                status = EMG_STATUS_BUSY;
            } else if (!start_stream()) {
                status = EMG_STATUS_BAD_VALUE; /* the configured rate cannot be sampled */
            }
            break;
        case EMG_CMD_STOP:
            stop_stream();
            break;
        case EMG_CMD_SET_RATE:
            if (s_streaming) {
                status = EMG_STATUS_BUSY;
            } else {
                s_stream_info.rate_hz = cmd.value;
                publish_info();
            }
            break;
        case EMG_CMD_SET_LATENCY:
            s_latency_ms = cmd.value;
            break;
        default:
            status = EMG_STATUS_UNKNOWN_COMMAND;
            break;
        }
    }
    reply(opcode, status);
}

void send_due_packets()
{
    if (!s_streaming || !s_subscribed) {
        return;
    }
    uint8_t max_samples = emg_packet_max_samples(s_mtu, BRIDGE_N_CHANNELS);
    uint32_t latency = (uint32_t)s_latency_ms * s_stream_info.rate_hz / 1000u;
    if (latency == 0u) {
        latency = 1u;
    }
    if (sampler::take_lead_off()) {
        s_lead_off_pending = true;
    }
    uint8_t flags = BRIDGE_LEAD_OFF_PIN >= 0 ? EMG_FLAG_LEAD_OFF_WIRED : 0u;
    for (int k = 0; k < kPacketsPerPass; k++) {
        emg_stream_pending_t pending;
        uint8_t packet_flags = (uint8_t)(flags | (s_lead_off_pending ? EMG_FLAG_LEAD_OFF : 0u));
        size_t size = emg_stream_build(&s_stream, s_ring, max_samples, sampler::now_index(),
                                       latency, packet_flags, sampler::battery_percent(),
                                       s_scratch, s_packet, sizeof s_packet, &pending);
        if (size == 0) {
            return;
        }
        if (!s_data->notify(s_packet, size)) {
            return; /* the controller's buffers are full: the same samples go next time */
        }
        emg_stream_commit(&s_stream, s_ring, &pending);
        s_lead_off_pending = false;
    }
}

void update_battery()
{
    if (s_battery == nullptr || millis() - s_last_battery_ms < kBatteryPeriodMs) {
        return;
    }
    s_last_battery_ms = millis();
    uint8_t pct = sampler::battery_percent();
    if (pct != s_last_battery && pct <= 100u) {
        s_last_battery = pct;
        s_battery->setValue(&pct, 1);
        s_battery->notify();
    }
}

}  // namespace

namespace ble_link {

void begin(emg_ring_t *ring)
{
    s_ring = ring;
    s_commands = xQueueCreate(8, sizeof(ControlWrite));

    s_stream_info.n_channels = BRIDGE_N_CHANNELS;
    s_stream_info.rate_hz = BRIDGE_DEFAULT_RATE_HZ;
    s_stream_info.adc_bits = 12;
    s_stream_info.zero_code = sampler::measure_zero_code();
    s_stream_info.nv_per_count = BRIDGE_NV_PER_COUNT;
    s_stream_info.rate_min_hz = EMG_RATE_MIN_HZ;
    s_stream_info.rate_max_hz = EMG_RATE_MAX_HZ;

    NimBLEDevice::init(BRIDGE_DEVICE_NAME);
    NimBLEDevice::setMTU(BRIDGE_PREFERRED_MTU);
    s_server = NimBLEDevice::createServer();
    s_server->setCallbacks(new ServerCallbacks());
    s_server->advertiseOnDisconnect(true);

    NimBLEService *emg = s_server->createService(kServiceUuid);
    s_data = emg->createCharacteristic(kDataUuid, NIMBLE_PROPERTY::NOTIFY);
    s_data->setCallbacks(new DataCallbacks());
    s_control = emg->createCharacteristic(kControlUuid,
                                          NIMBLE_PROPERTY::WRITE | NIMBLE_PROPERTY::NOTIFY);
    s_control->setCallbacks(new ControlCallbacks());
    s_info = emg->createCharacteristic(kInfoUuid, NIMBLE_PROPERTY::READ);
    publish_info();

    NimBLEService *dis = s_server->createService(NimBLEUUID((uint16_t)0x180A));
    dis->createCharacteristic(NimBLEUUID((uint16_t)0x2A29), NIMBLE_PROPERTY::READ)
        ->setValue(BRIDGE_MANUFACTURER);
    dis->createCharacteristic(NimBLEUUID((uint16_t)0x2A24), NIMBLE_PROPERTY::READ)
        ->setValue(BRIDGE_MODEL);
    dis->createCharacteristic(NimBLEUUID((uint16_t)0x2A26), NIMBLE_PROPERTY::READ)
        ->setValue(BRIDGE_FIRMWARE_REVISION);

#if BRIDGE_BATTERY_PIN >= 0
    NimBLEService *bas = s_server->createService(NimBLEUUID((uint16_t)0x180F));
    s_battery = bas->createCharacteristic(NimBLEUUID((uint16_t)0x2A19),
                                          NIMBLE_PROPERTY::READ | NIMBLE_PROPERTY::NOTIFY);
    s_last_battery = sampler::battery_percent();
    s_battery->setValue(&s_last_battery, 1);
#endif

    NimBLEAdvertising *adv = NimBLEDevice::getAdvertising();
    NimBLEAdvertisementData data;
    data.setFlags(kAdvFlags);
    data.addServiceUUID(kServiceUuid);
    NimBLEAdvertisementData scan;
    scan.setName(BRIDGE_DEVICE_NAME);
    adv->enableScanResponse(true);
    adv->setAdvertisementData(data);
    adv->setScanResponseData(scan);
    adv->start();
}

void service()
{
    ControlWrite write;
    while (xQueueReceive(s_commands, &write, 0) == pdTRUE) {
        handle(write);
    }
    if (s_disconnected) {
        s_disconnected = false;
        if (s_streaming) {
            stop_stream();
        }
    }
    send_due_packets();
    update_battery();
}

}  // namespace ble_link
