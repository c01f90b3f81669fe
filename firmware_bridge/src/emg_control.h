/*
 * emg_control.h - the stream-info value and the control commands of the emgspasm bridge
 * protocol, version 1 (see PROTOCOL.md). Portable C, shared by the firmware and the host tests.
 */
#ifndef EMG_CONTROL_H
#define EMG_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMG_INFO_SIZE 16u
#define EMG_INFO_FLAG_LEAD_OFF_WIRED 0x01u
#define EMG_INFO_FLAG_STREAMING 0x02u

#define EMG_RATE_MIN_HZ 500u
#define EMG_RATE_MAX_HZ 2000u
#define EMG_TIMER_HZ 1000000u /* the sampling timer ticks at 1 MHz: periods are whole us */
#define EMG_LATENCY_MIN_MS 5u
#define EMG_LATENCY_MAX_MS 1000u

/* Opcodes (first byte written to the control characteristic). */
#define EMG_CMD_START 0x01u
#define EMG_CMD_STOP 0x02u
#define EMG_CMD_SET_RATE 0x03u    /* + u16 sample rate in Hz */
#define EMG_CMD_SET_LATENCY 0x04u /* + u16 longest time a sample may wait on the device, ms */

/* Status byte of a reply ([opcode, status], notified on the control characteristic). */
#define EMG_STATUS_OK 0u
#define EMG_STATUS_UNKNOWN_COMMAND 1u
#define EMG_STATUS_BAD_LENGTH 2u
#define EMG_STATUS_BAD_VALUE 3u
#define EMG_STATUS_BUSY 4u /* not allowed while streaming */

typedef struct {
    uint8_t n_channels;
    uint16_t rate_hz;
    uint8_t adc_bits;
    uint8_t flags;             /* EMG_INFO_FLAG_* */
    uint16_t zero_code;        /* ADC code of a zero differential input */
    uint32_t nv_per_count;     /* nanovolts at the electrodes per ADC count; 0 = unknown */
    uint16_t rate_min_hz;
    uint16_t rate_max_hz;
} emg_info_t;

typedef struct {
    uint8_t opcode;
    uint16_t value; /* rate or latency; 0 for START/STOP */
} emg_command_t;

/* Write the 16-byte info value (byte 0 is the protocol version). Returns EMG_INFO_SIZE. */
size_t emg_info_pack(uint8_t out[EMG_INFO_SIZE], const emg_info_t *info);

/* 1 if the firmware can sample at rate_hz: within the range and a whole number of timer ticks. */
int emg_rate_supported(uint16_t rate_hz);

/* Parse a control write. Returns EMG_STATUS_OK and fills cmd, or the status to reply with.
 * Values are range-checked here; "busy" is for the caller to decide. */
uint8_t emg_command_parse(const uint8_t *in, size_t len, emg_command_t *cmd);

/* Write the 2-byte reply [opcode, status]. Returns 2. */
size_t emg_reply_pack(uint8_t out[2], uint8_t opcode, uint8_t status);

#ifdef __cplusplus
}
#endif

#endif /* EMG_CONTROL_H */
