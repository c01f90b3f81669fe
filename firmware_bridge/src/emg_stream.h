/*
 * emg_stream.h - the sender's bookkeeping: when a packet is due, what goes in it, and which
 * flags it carries. Portable C, so that the host tests run exactly the logic the firmware runs.
 *
 * Use: emg_stream_start() on START; then repeatedly emg_stream_build(); if it returns a size,
 * notify the bytes and, only if the notification was accepted, emg_stream_commit() (which
 * removes the frames from the ring and advances the counters). A refused notification (the
 * radio's buffers are full) is simply built again later, with more samples if more arrived.
 */
#ifndef EMG_STREAM_H
#define EMG_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "emg_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t sequence;   /* sequence number of the next packet */
    uint32_t next_index; /* sample index the next packet should start at if nothing is lost */
    uint8_t started;     /* 0 until the first packet after START has been sent */
    uint8_t n_channels;
} emg_stream_t;

typedef struct {
    uint32_t frames;      /* ring frames the built packet holds */
    uint32_t first_index; /* sample index of its first frame */
} emg_stream_pending_t;

void emg_stream_start(emg_stream_t *stream, uint8_t n_channels);

/* Build the next packet if one is due: the run of consecutive frames at the ring's tail is
 * max_samples long, or is followed by a jump in the indices, or its oldest frame has waited
 * latency_samples (now_index is the index the sampler will give its next frame). extra_flags
 * may hold EMG_FLAG_LEAD_OFF / EMG_FLAG_LEAD_OFF_WIRED; SATURATED, OVERFLOW and STREAM_START are
 * set here. scratch holds max_samples * n_channels values. Returns the packet size, or 0 when
 * nothing is due. */
size_t emg_stream_build(const emg_stream_t *stream, const emg_ring_t *ring, uint8_t max_samples,
                        uint32_t now_index, uint32_t latency_samples, uint8_t extra_flags,
                        uint8_t battery, uint16_t *scratch, uint8_t *out, size_t out_size,
                        emg_stream_pending_t *pending);

/* After the packet was handed to the radio: drop its frames and advance the counters. */
void emg_stream_commit(emg_stream_t *stream, emg_ring_t *ring, const emg_stream_pending_t *pending);

#ifdef __cplusplus
}
#endif

#endif /* EMG_STREAM_H */
