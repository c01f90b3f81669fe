/*
 * emg_ring.h - single-producer single-consumer ring of multi-channel samples, each stored with
 * its sample index.
 *
 * The sampler (producer) pushes one frame per timer tick; the BLE sender (consumer) takes runs of
 * consecutive indices out of it. Storing the index with every frame is what lets a packet say
 * exactly where samples went missing: a frame the ring had no room for, or a tick the sampler
 * missed, leaves a jump in the indices, and the sender starts a new packet there with the
 * overflow flag set.
 *
 * Portable C11 (<stdatomic.h>); the type is opaque so that C++ code including this header never
 * sees C atomics.
 */
#ifndef EMG_RING_H
#define EMG_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct emg_ring emg_ring_t;

/* Bytes of memory emg_ring_init needs for capacity frames of n_channels values (capacity must
 * be a power of two); 0 if the arguments are invalid. */
size_t emg_ring_footprint(uint32_t capacity, uint8_t n_channels);

/* Lay a ring out in memory (aligned for uint32_t, at least emg_ring_footprint bytes). Returns
 * the ring, or NULL if the arguments or the memory do not fit. */
emg_ring_t *emg_ring_init(void *memory, size_t size, uint32_t capacity, uint8_t n_channels);

/* Producer: append one frame of n_channels values taken at sample index. Returns 1, or 0 if the
 * ring was full (the frame is dropped and counted). */
int emg_ring_push(emg_ring_t *ring, uint32_t index, const uint16_t *values);

/* Frames waiting (consumer side). */
uint32_t emg_ring_count(const emg_ring_t *ring);

/* Frames dropped by emg_ring_push since init. */
uint32_t emg_ring_dropped(const emg_ring_t *ring);

/* Consumer: copy up to max_frames frames from the oldest on, stopping before the first frame
 * whose index does not follow its predecessor's. Writes the oldest frame's index to
 * *first_index. Returns the number of frames copied (values time-major). Nothing is removed. */
uint32_t emg_ring_peek_run(const emg_ring_t *ring, uint16_t *values, uint32_t max_frames,
                           uint32_t *first_index);

/* Consumer: remove the frames_to_drop oldest frames (at most the count waiting). */
void emg_ring_consume(emg_ring_t *ring, uint32_t frames_to_drop);

/* Either side, while the other is stopped: forget every frame. */
void emg_ring_clear(emg_ring_t *ring);

#ifdef __cplusplus
}
#endif

#endif /* EMG_RING_H */
