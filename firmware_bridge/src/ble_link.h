/*
 * ble_link.h - the GATT server (NimBLE-Arduino 2.x): the emgspasm EMG service with its data,
 * control and info characteristics, plus Device Information and Battery services; the control
 * command handling and the packet sending loop.
 */
#ifndef BLE_LINK_H
#define BLE_LINK_H

#include "emg_ring.h"

namespace ble_link {

/* Build the services and start advertising. */
void begin(emg_ring_t *ring);

/* Call from loop(): handles queued commands, sends due packets, updates the battery level. */
void service();

}  // namespace ble_link

#endif /* BLE_LINK_H */
