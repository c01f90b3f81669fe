/*
 * bridge_config.h - everything a builder may need to change for their board and sensor.
 *
 * Defaults: an ESP32 (classic) dev board, one MyoWare 2.0-class sensor whose RAW output goes to
 * GPIO36 (ADC1), sampled at 1000 Hz. Only ADC1 pins may be used: ADC2 is not usable while the
 * radio is on. Each value can also be given at build time (e.g. -DBRIDGE_N_CHANNELS=2).
 */
#ifndef BRIDGE_CONFIG_H
#define BRIDGE_CONFIG_H

#include <stdint.h>

#ifndef BRIDGE_DEVICE_NAME
#define BRIDGE_DEVICE_NAME "emgspasm-bridge"
#endif
#ifndef BRIDGE_MANUFACTURER
#define BRIDGE_MANUFACTURER "emgspasm"
#endif
#ifndef BRIDGE_MODEL
#define BRIDGE_MODEL "emgspasm-bridge ESP32"
#endif
#ifndef BRIDGE_FIRMWARE_REVISION
#define BRIDGE_FIRMWARE_REVISION "1.0.0"
#endif

/* Analog EMG inputs, one per channel (1..4 here; the protocol allows up to 8). Arduino pin
 * numbers; on an ESP32 dev module GPIO36 = A0 (VP), 39 = A3 (VN), 34 = A6, 35 = A7. */
#ifndef BRIDGE_N_CHANNELS
#define BRIDGE_N_CHANNELS 1
#endif
#ifndef BRIDGE_EMG_PINS
#define BRIDGE_EMG_PINS {36, 39, 34, 35}
#endif

/* The sensor's REF (mid-supply) output, averaged at power-up to give the zero code; -1 if not
 * wired (the zero code is then mid-scale, 2048). */
#ifndef BRIDGE_REF_PIN
#define BRIDGE_REF_PIN (-1)
#endif

/* A digital lead-off output of the front end (high = electrode off); -1 if there is none (the
 * MyoWare 2.0 has none; AD8232 boards have LO+/LO-). */
#ifndef BRIDGE_LEAD_OFF_PIN
#define BRIDGE_LEAD_OFF_PIN (-1)
#endif

/* An ADC1 pin that sees the battery through a divider (many boards: VBAT/2); -1 if none. The
 * percentage is a straight line from BRIDGE_BATTERY_EMPTY_MV to BRIDGE_BATTERY_FULL_MV, a rough
 * LiPo estimate. */
#ifndef BRIDGE_BATTERY_PIN
#define BRIDGE_BATTERY_PIN (-1)
#endif
#ifndef BRIDGE_BATTERY_DIVIDER
#define BRIDGE_BATTERY_DIVIDER 2
#endif
#ifndef BRIDGE_BATTERY_EMPTY_MV
#define BRIDGE_BATTERY_EMPTY_MV 3300
#endif
#ifndef BRIDGE_BATTERY_FULL_MV
#define BRIDGE_BATTERY_FULL_MV 4200
#endif

/* Stream defaults (the host may change rate and latency with control commands). */
#ifndef BRIDGE_DEFAULT_RATE_HZ
#define BRIDGE_DEFAULT_RATE_HZ 1000u
#endif
#ifndef BRIDGE_DEFAULT_LATENCY_MS
#define BRIDGE_DEFAULT_LATENCY_MS 20u
#endif

/* Ring of samples waiting for the radio: a power of two. 4096 frames are 2 s at 2 kHz. */
#ifndef BRIDGE_RING_CAPACITY
#define BRIDGE_RING_CAPACITY 4096u
#endif

/* Scale announced to the host: nanovolts at the electrodes per ADC count. The ESP32 ADC at its
 * default 11 dB attenuation spans roughly 0-3.1 V (not linear near the ends); MyoWare 2.0 RAW
 * has a fixed gain of 200. 3300 mV / 4095 / 200 = 4.03 uV per count. Set 0 for "unknown". */
#ifndef BRIDGE_NV_PER_COUNT
#define BRIDGE_NV_PER_COUNT 4029u
#endif

/* ATT MTU asked for at connection; packets grow to whatever the central accepts. */
#ifndef BRIDGE_PREFERRED_MTU
#define BRIDGE_PREFERRED_MTU 247
#endif

/* Sampling task: core and FreeRTOS priority (the Arduino loop runs at 1 on core 1; NimBLE's host
 * task runs on core 0). */
#ifndef BRIDGE_SAMPLER_CORE
#define BRIDGE_SAMPLER_CORE 1
#endif
#ifndef BRIDGE_SAMPLER_PRIORITY
#define BRIDGE_SAMPLER_PRIORITY 20
#endif

#endif /* BRIDGE_CONFIG_H */
