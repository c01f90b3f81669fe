/*
 * emg_ring.c - lock-free single-producer single-consumer sample ring (see emg_ring.h).
 *
 * head and tail are free-running 32-bit counters; with a power-of-two capacity their difference
 * is the fill level even across their wrap-around. The producer publishes a frame with a release
 * store of head after writing it; the consumer frees slots with a release store of tail after
 * reading them.
 */
#include "emg_ring.h"

#include <stdalign.h>
#include <stdatomic.h>

struct emg_ring {
    uint32_t capacity;
    uint32_t mask;
    uint32_t n_channels;
    _Atomic uint32_t head;    /* written by the producer only */
    _Atomic uint32_t tail;    /* written by the consumer only */
    _Atomic uint32_t dropped; /* written by the producer only */
    uint32_t *indices;
    uint16_t *values;
};

static size_t header_size(void)
{
    size_t a = alignof(uint32_t);
    return (sizeof(struct emg_ring) + a - 1u) / a * a;
}

size_t emg_ring_footprint(uint32_t capacity, uint8_t n_channels)
{
    if (capacity < 2u || (capacity & (capacity - 1u)) != 0u || n_channels < 1u) {
        return 0;
    }
    return header_size() + (size_t)capacity * sizeof(uint32_t) +
           (size_t)capacity * n_channels * sizeof(uint16_t);
}

emg_ring_t *emg_ring_init(void *memory, size_t size, uint32_t capacity, uint8_t n_channels)
{
    size_t need = emg_ring_footprint(capacity, n_channels);
    struct emg_ring *ring;
    unsigned char *base = (unsigned char *)memory;
    if (need == 0 || memory == NULL || size < need ||
        ((uintptr_t)memory % alignof(struct emg_ring)) != 0u) {
        return NULL;
    }
    ring = (struct emg_ring *)memory;
    ring->capacity = capacity;
    ring->mask = capacity - 1u;
    ring->n_channels = n_channels;
    atomic_init(&ring->head, 0u);
    atomic_init(&ring->tail, 0u);
    atomic_init(&ring->dropped, 0u);
    ring->indices = (uint32_t *)(void *)(base + header_size());
    ring->values = (uint16_t *)(void *)(base + header_size() + (size_t)capacity * sizeof(uint32_t));
    return ring;
}

int emg_ring_push(emg_ring_t *ring, uint32_t index, const uint16_t *values)
{
    uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    uint32_t slot, c;
    if (head - tail >= ring->capacity) {
        uint32_t dropped = atomic_load_explicit(&ring->dropped, memory_order_relaxed);
        atomic_store_explicit(&ring->dropped, dropped + 1u, memory_order_relaxed);
        return 0;
    }
    slot = head & ring->mask;
    ring->indices[slot] = index;
    for (c = 0; c < ring->n_channels; c++) {
        ring->values[(size_t)slot * ring->n_channels + c] = values[c];
    }
    atomic_store_explicit(&ring->head, head + 1u, memory_order_release);
    return 1;
}

uint32_t emg_ring_count(const emg_ring_t *ring)
{
    uint32_t head = atomic_load_explicit(&((emg_ring_t *)ring)->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&((emg_ring_t *)ring)->tail, memory_order_relaxed);
    return head - tail;
}

uint32_t emg_ring_dropped(const emg_ring_t *ring)
{
    return atomic_load_explicit(&((emg_ring_t *)ring)->dropped, memory_order_relaxed);
}

uint32_t emg_ring_peek_run(const emg_ring_t *ring, uint16_t *values, uint32_t max_frames,
                           uint32_t *first_index)
{
    uint32_t tail = atomic_load_explicit(&((emg_ring_t *)ring)->tail, memory_order_relaxed);
    uint32_t count = emg_ring_count(ring);
    uint32_t n, c;
    if (count > max_frames) {
        count = max_frames;
    }
    for (n = 0; n < count; n++) {
        uint32_t slot = (tail + n) & ring->mask;
        if (n == 0) {
            *first_index = ring->indices[slot];
        } else if (ring->indices[slot] != *first_index + n) {
            break;
        }
        for (c = 0; c < ring->n_channels; c++) {
            values[(size_t)n * ring->n_channels + c] =
                ring->values[(size_t)slot * ring->n_channels + c];
        }
    }
    return n;
}

void emg_ring_consume(emg_ring_t *ring, uint32_t frames_to_drop)
{
    uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint32_t count = emg_ring_count(ring);
    if (frames_to_drop > count) {
        frames_to_drop = count;
    }
    atomic_store_explicit(&ring->tail, tail + frames_to_drop, memory_order_release);
}

void emg_ring_clear(emg_ring_t *ring)
{
    atomic_store_explicit(&ring->head, 0u, memory_order_relaxed);
    atomic_store_explicit(&ring->tail, 0u, memory_order_relaxed);
    atomic_store_explicit(&ring->dropped, 0u, memory_order_relaxed);
}
