/*
 * sampler.h - hardware-timer driven sampling of the EMG inputs into the ring.
 *
 * A hardware timer fires at the sample rate; its interrupt only wakes a high-priority task pinned
 * to one core, which reads the ADC (analogRead is not safe inside an interrupt on the ESP32) and
 * pushes one frame with its sample index. If the task ever falls behind by whole ticks, those
 * indices are skipped (never re-labelled), so the host sees a gap exactly where it happened.
 */
#ifndef SAMPLER_H
#define SAMPLER_H

#include <stdint.h>

#include "emg_ring.h"

namespace sampler {

/* Create the task; the timer is not running yet. */
bool begin(emg_ring_t *ring);

/* Clear the ring, restart the index at 0 and sample at rate_hz (emg_rate_supported). */
bool start(uint16_t rate_hz);

/* Stop the timer and wait until the task has finished any frame in progress. */
void stop();

bool running();

/* The index the next frame will get (the "now" of the stream). */
uint32_t now_index();

/* True if the lead-off input was seen active since the last call (then cleared). */
bool take_lead_off();

/* Battery percentage (0..100), or 0xFF when no battery pin is configured. */
uint8_t battery_percent();

/* Mean ADC code of the REF pin over a few reads, or 2048 without one. Call while stopped. */
uint16_t measure_zero_code();

}  // namespace sampler

#endif /* SAMPLER_H */
