/*
 * emg_packet.h - the data packet of the emgspasm bridge protocol, version 1.
 *
 * Portable C (C99, no Arduino or ESP-IDF headers): the firmware uses it to build the packets it
 * notifies, and the host test suite compiles the same file to check that the Python decoder
 * reads exactly what the firmware writes. PROTOCOL.md is the normative description; this code
 * follows it byte for byte.
 */
#ifndef EMG_PACKET_H
#define EMG_PACKET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMG_PACKET_VERSION 1u
#define EMG_PACKET_HEADER_SIZE 12u
#define EMG_PACKET_CRC_SIZE 2u
#define EMG_PACKET_MAX_CHANNELS 8u
#define EMG_PACKET_MAX_SAMPLES 255u
#define EMG_PACKET_MAX_SIZE 512u /* the largest attribute value ATT allows */
#define EMG_PACKET_MAX_CODE 4095u /* samples are 12-bit ADC codes */
#define EMG_PACKET_BATTERY_UNKNOWN 0xFFu

/* Status flags (header byte 1). */
#define EMG_FLAG_SATURATED 0x01u      /* a sample of this packet sits at an ADC rail */
#define EMG_FLAG_LEAD_OFF 0x02u       /* the lead-off input was active during this packet */
#define EMG_FLAG_OVERFLOW 0x04u       /* samples were dropped on the device just before it */
#define EMG_FLAG_LEAD_OFF_WIRED 0x08u /* the board has a lead-off input at all */
#define EMG_FLAG_STREAM_START 0x10u   /* first packet after a START command */
#define EMG_FLAG_RESERVED_MASK 0xE0u  /* must be zero in version 1 */

/* Results of emg_packet_unpack. */
#define EMG_OK 0
#define EMG_ERR_SHORT -1       /* fewer bytes than a header and a CRC */
#define EMG_ERR_VERSION -2     /* a protocol version this code does not speak */
#define EMG_ERR_RESERVED -3    /* reserved flag bits or reserved byte set */
#define EMG_ERR_SHAPE -4       /* sample or channel count out of range */
#define EMG_ERR_LENGTH -5      /* length does not match the counts */
#define EMG_ERR_CRC -6         /* checksum mismatch */
#define EMG_ERR_PADDING -7     /* the unused half byte after an odd number of values is not 0 */
#define EMG_ERR_CAPACITY -8    /* the caller's sample buffer is too small */
#define EMG_ERR_BATTERY -9     /* battery byte neither 0..100 nor 0xFF */

typedef struct {
    uint8_t flags;         /* EMG_FLAG_* */
    uint16_t sequence;     /* packet counter, wraps 65535 -> 0 */
    uint32_t first_sample; /* sample index of the packet's first sample, wraps 2^32-1 -> 0 */
    uint8_t n_samples;     /* samples per channel, 1..255 */
    uint8_t n_channels;    /* 1..8 */
    uint8_t battery;       /* percent 0..100, or EMG_PACKET_BATTERY_UNKNOWN */
} emg_packet_header_t;

/* Bytes taken by n packed 12-bit values: two values share three bytes. */
size_t emg_packed_size(size_t n_values);

/* Total packet size for a sample and channel count, or 0 if the counts are out of range or the
 * packet would exceed EMG_PACKET_MAX_SIZE. */
size_t emg_packet_size(uint8_t n_samples, uint8_t n_channels);

/* The most samples per channel whose packet fits one notification at this ATT MTU (a
 * notification carries MTU - 3 bytes); 0 if not even one fits. */
uint8_t emg_packet_max_samples(uint16_t att_mtu, uint8_t n_channels);

/* CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final xor. */
uint16_t emg_crc16(const uint8_t *data, size_t len);

/* Write a packet. samples holds n_samples * n_channels values, time-major (all channels of the
 * first instant, then the next instant), each 0..4095. hdr->n_samples/n_channels give the shape.
 * Returns the packet size, or 0 if a value or count is out of range or out_size is too small. */
size_t emg_packet_pack(uint8_t *out, size_t out_size, const emg_packet_header_t *hdr,
                       const uint16_t *samples);

/* Read and check a packet; fills hdr and up to samples_cap values. Returns EMG_OK or an
 * EMG_ERR_* code; nothing is trusted until EMG_OK. */
int emg_packet_unpack(const uint8_t *in, size_t len, emg_packet_header_t *hdr, uint16_t *samples,
                      size_t samples_cap);

/* 1 if any value is at an ADC rail (0 or max_code), else 0. */
int emg_any_saturated(const uint16_t *values, size_t n, uint16_t max_code);

#ifdef __cplusplus
}
#endif

#endif /* EMG_PACKET_H */
