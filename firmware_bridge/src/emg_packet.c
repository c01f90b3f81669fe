/*
 * emg_packet.c - packing and checking of bridge protocol data packets (see emg_packet.h and
 * PROTOCOL.md). Multi-byte header fields are little-endian; 12-bit values are packed two per
 * three bytes, low byte of the first value first.
 */
#include "emg_packet.h"

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

size_t emg_packed_size(size_t n_values)
{
    return (3u * n_values + 1u) / 2u;
}

size_t emg_packet_size(uint8_t n_samples, uint8_t n_channels)
{
    size_t size;
    if (n_samples < 1u || n_channels < 1u || n_channels > EMG_PACKET_MAX_CHANNELS) {
        return 0;
    }
    size = EMG_PACKET_HEADER_SIZE + emg_packed_size((size_t)n_samples * n_channels) +
           EMG_PACKET_CRC_SIZE;
    return size <= EMG_PACKET_MAX_SIZE ? size : 0;
}

uint8_t emg_packet_max_samples(uint16_t att_mtu, uint8_t n_channels)
{
    size_t room;
    unsigned n;
    if (att_mtu < 3u || n_channels < 1u || n_channels > EMG_PACKET_MAX_CHANNELS) {
        return 0;
    }
    room = (size_t)att_mtu - 3u;
    if (room > EMG_PACKET_MAX_SIZE) {
        room = EMG_PACKET_MAX_SIZE;
    }
    for (n = EMG_PACKET_MAX_SAMPLES; n >= 1u; n--) {
        size_t size = emg_packet_size((uint8_t)n, n_channels);
        if (size != 0 && size <= room) {
            return (uint8_t)n;
        }
    }
    return 0;
}

uint16_t emg_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    int bit;
    for (i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (bit = 0; bit < 8; bit++) {
            if (crc & 0x8000u) {
                crc = (uint16_t)((crc << 1) ^ 0x1021u);
            } else {
                crc = (uint16_t)(crc << 1);
            }
        }
    }
    return crc;
}

size_t emg_packet_pack(uint8_t *out, size_t out_size, const emg_packet_header_t *hdr,
                       const uint16_t *samples)
{
    size_t size, n_values, i, pos;
    size = emg_packet_size(hdr->n_samples, hdr->n_channels);
    if (size == 0 || size > out_size) {
        return 0;
    }
    if ((hdr->flags & EMG_FLAG_RESERVED_MASK) != 0u) {
        return 0;
    }
    if (hdr->battery > 100u && hdr->battery != EMG_PACKET_BATTERY_UNKNOWN) {
        return 0;
    }
    n_values = (size_t)hdr->n_samples * hdr->n_channels;
    for (i = 0; i < n_values; i++) {
        if (samples[i] > EMG_PACKET_MAX_CODE) {
            return 0;
        }
    }

    out[0] = (uint8_t)EMG_PACKET_VERSION;
    out[1] = hdr->flags;
    put_u16(&out[2], hdr->sequence);
    put_u32(&out[4], hdr->first_sample);
    out[8] = hdr->n_samples;
    out[9] = hdr->n_channels;
    out[10] = hdr->battery;
    out[11] = 0u; /* reserved */

    pos = EMG_PACKET_HEADER_SIZE;
    for (i = 0; i + 1u < n_values; i += 2u) {
        uint16_t a = samples[i];
        uint16_t b = samples[i + 1u];
        out[pos++] = (uint8_t)(a & 0xFFu);
        out[pos++] = (uint8_t)((a >> 8) | ((b & 0x0Fu) << 4));
        out[pos++] = (uint8_t)(b >> 4);
    }
    if (i < n_values) { /* odd count: the last value alone, its upper half byte zero */
        uint16_t a = samples[i];
        out[pos++] = (uint8_t)(a & 0xFFu);
        out[pos++] = (uint8_t)(a >> 8);
    }
    put_u16(&out[pos], emg_crc16(out, pos));
    return pos + EMG_PACKET_CRC_SIZE;
}

int emg_packet_unpack(const uint8_t *in, size_t len, emg_packet_header_t *hdr, uint16_t *samples,
                      size_t samples_cap)
{
    size_t size, n_values, i, pos;
    if (len < EMG_PACKET_HEADER_SIZE + EMG_PACKET_CRC_SIZE) {
        return EMG_ERR_SHORT;
    }
    if (in[0] != EMG_PACKET_VERSION) {
        return EMG_ERR_VERSION;
    }
    if ((in[1] & EMG_FLAG_RESERVED_MASK) != 0u || in[11] != 0u) {
        return EMG_ERR_RESERVED;
    }
    size = emg_packet_size(in[8], in[9]);
    if (size == 0) {
        return EMG_ERR_SHAPE;
    }
    if (size != len) {
        return EMG_ERR_LENGTH;
    }
    if (get_u16(&in[len - EMG_PACKET_CRC_SIZE]) != emg_crc16(in, len - EMG_PACKET_CRC_SIZE)) {
        return EMG_ERR_CRC;
    }
    if (in[10] > 100u && in[10] != EMG_PACKET_BATTERY_UNKNOWN) {
        return EMG_ERR_BATTERY;
    }
    n_values = (size_t)in[8] * in[9];
    if (n_values > samples_cap) {
        return EMG_ERR_CAPACITY;
    }
    if ((n_values % 2u) == 1u && (in[len - EMG_PACKET_CRC_SIZE - 1u] & 0xF0u) != 0u) {
        return EMG_ERR_PADDING;
    }

    hdr->flags = in[1];
    hdr->sequence = get_u16(&in[2]);
    hdr->first_sample = get_u32(&in[4]);
    hdr->n_samples = in[8];
    hdr->n_channels = in[9];
    hdr->battery = in[10];

    pos = EMG_PACKET_HEADER_SIZE;
    for (i = 0; i + 1u < n_values; i += 2u) {
        samples[i] = (uint16_t)(in[pos] | ((uint16_t)(in[pos + 1u] & 0x0Fu) << 8));
        samples[i + 1u] = (uint16_t)((in[pos + 1u] >> 4) | ((uint16_t)in[pos + 2u] << 4));
        pos += 3u;
    }
    if (i < n_values) {
        samples[i] = (uint16_t)(in[pos] | ((uint16_t)(in[pos + 1u] & 0x0Fu) << 8));
    }
    return EMG_OK;
}

int emg_any_saturated(const uint16_t *values, size_t n, uint16_t max_code)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (values[i] == 0u || values[i] >= max_code) {
            return 1;
        }
    }
    return 0;
}
