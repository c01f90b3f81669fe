/*
 * emg_stream.c - decides when a data packet is due and fills in its header (see emg_stream.h).
 */
#include "emg_stream.h"

#include "emg_packet.h"

void emg_stream_start(emg_stream_t *stream, uint8_t n_channels)
{
    stream->sequence = 0u;
    stream->next_index = 0u;
    stream->started = 0u;
    stream->n_channels = n_channels;
}

size_t emg_stream_build(const emg_stream_t *stream, const emg_ring_t *ring, uint8_t max_samples,
                        uint32_t now_index, uint32_t latency_samples, uint8_t extra_flags,
                        uint8_t battery, uint16_t *scratch, uint8_t *out, size_t out_size,
                        emg_stream_pending_t *pending)
{
    emg_packet_header_t hdr;
    uint32_t waiting, run, first_index = 0u;
    int due;
    if (max_samples == 0u) {
        return 0;
    }
    waiting = emg_ring_count(ring);
    if (waiting == 0u) {
        return 0;
    }
    run = emg_ring_peek_run(ring, scratch, max_samples, &first_index);
    due = run >= max_samples                       /* full packet */
          || run < waiting                         /* the run ends at a jump in the indices */
          || now_index - first_index >= latency_samples; /* the oldest sample waited long enough */
    if (!due) {
        return 0;
    }

    hdr.flags = (uint8_t)(extra_flags & (EMG_FLAG_LEAD_OFF | EMG_FLAG_LEAD_OFF_WIRED));
    if (emg_any_saturated(scratch, (size_t)run * stream->n_channels, EMG_PACKET_MAX_CODE)) {
        hdr.flags |= EMG_FLAG_SATURATED;
    }
    if (first_index != stream->next_index) {
        hdr.flags |= EMG_FLAG_OVERFLOW;
    }
    if (!stream->started) {
        hdr.flags |= EMG_FLAG_STREAM_START;
    }
    hdr.sequence = stream->sequence;
    hdr.first_sample = first_index;
    hdr.n_samples = (uint8_t)run;
    hdr.n_channels = stream->n_channels;
    hdr.battery = battery;
    pending->frames = run;
    pending->first_index = first_index;
    return emg_packet_pack(out, out_size, &hdr, scratch);
}

void emg_stream_commit(emg_stream_t *stream, emg_ring_t *ring, const emg_stream_pending_t *pending)
{
    emg_ring_consume(ring, pending->frames);
    stream->sequence = (uint16_t)(stream->sequence + 1u);
    stream->next_index = pending->first_index + pending->frames;
    stream->started = 1u;
}
