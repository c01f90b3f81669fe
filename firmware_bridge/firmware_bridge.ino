/*
 * emgspasm bridge - ESP32 firmware streaming a MyoWare 2.0-class analog EMG sensor over
 * Bluetooth LE (NimBLE-Arduino 2.x). See README.md for wiring, building and flashing, and
 * PROTOCOL.md for every byte on the air.
 *
 * setup() lays out the sample ring, starts the sampling task (idle until a START command) and
 * the GATT server; loop() hands commands and due packets to ble_link::service().
 */
#include "src/ble_link.h"
#include "src/bridge_config.h"
#include "src/emg_ring.h"
#include "src/sampler.h"

/* Ring storage: index + values per frame, plus the ring's own header (see emg_ring.h). */
static uint32_t ring_memory[(BRIDGE_RING_CAPACITY * (4u + 2u * BRIDGE_N_CHANNELS) + 64u) / 4u];

void setup()
{
    Serial.begin(115200);
    emg_ring_t *ring = emg_ring_init(ring_memory, sizeof ring_memory, BRIDGE_RING_CAPACITY,
                                     BRIDGE_N_CHANNELS);
    if (ring == nullptr || !sampler::begin(ring)) {
        Serial.println("emgspasm bridge: sample ring or sampling task could not be created");
        for (;;) {
            delay(1000);
        }
    }
    ble_link::begin(ring);
    Serial.println("emgspasm bridge: advertising as " BRIDGE_DEVICE_NAME);
}

void loop()
{
    ble_link::service();
    delay(1); /* yields; packets are due every few ms at most */
}
