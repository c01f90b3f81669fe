/*
 * emg_control.c - stream-info value and control command parsing (see emg_control.h).
 */
#include "emg_control.h"

#include "emg_packet.h"

size_t emg_info_pack(uint8_t out[EMG_INFO_SIZE], const emg_info_t *info)
{
    out[0] = (uint8_t)EMG_PACKET_VERSION;
    out[1] = info->n_channels;
    out[2] = (uint8_t)(info->rate_hz & 0xFFu);
    out[3] = (uint8_t)(info->rate_hz >> 8);
    out[4] = info->adc_bits;
    out[5] = info->flags;
    out[6] = (uint8_t)(info->zero_code & 0xFFu);
    out[7] = (uint8_t)(info->zero_code >> 8);
    out[8] = (uint8_t)(info->nv_per_count & 0xFFu);
    out[9] = (uint8_t)((info->nv_per_count >> 8) & 0xFFu);
    out[10] = (uint8_t)((info->nv_per_count >> 16) & 0xFFu);
    out[11] = (uint8_t)(info->nv_per_count >> 24);
    out[12] = (uint8_t)(info->rate_min_hz & 0xFFu);
    out[13] = (uint8_t)(info->rate_min_hz >> 8);
    out[14] = (uint8_t)(info->rate_max_hz & 0xFFu);
    out[15] = (uint8_t)(info->rate_max_hz >> 8);
    return EMG_INFO_SIZE;
}

int emg_rate_supported(uint16_t rate_hz)
{
    return rate_hz >= EMG_RATE_MIN_HZ && rate_hz <= EMG_RATE_MAX_HZ &&
           (EMG_TIMER_HZ % rate_hz) == 0u;
}

uint8_t emg_command_parse(const uint8_t *in, size_t len, emg_command_t *cmd)
{
    uint16_t value;
    if (len < 1u) {
        return EMG_STATUS_BAD_LENGTH;
    }
    cmd->opcode = in[0];
    cmd->value = 0u;
    switch (in[0]) {
    case EMG_CMD_START:
    case EMG_CMD_STOP:
        return len == 1u ? EMG_STATUS_OK : EMG_STATUS_BAD_LENGTH;
    case EMG_CMD_SET_RATE:
    case EMG_CMD_SET_LATENCY:
        if (len != 3u) {
            return EMG_STATUS_BAD_LENGTH;
        }
        value = (uint16_t)(in[1] | ((uint16_t)in[2] << 8));
        if (in[0] == EMG_CMD_SET_RATE && !emg_rate_supported(value)) {
            return EMG_STATUS_BAD_VALUE;
        }
        if (in[0] == EMG_CMD_SET_LATENCY &&
            (value < EMG_LATENCY_MIN_MS || value > EMG_LATENCY_MAX_MS)) {
            return EMG_STATUS_BAD_VALUE;
        }
        cmd->value = value;
        return EMG_STATUS_OK;
    default:
        return EMG_STATUS_UNKNOWN_COMMAND;
    }
}

size_t emg_reply_pack(uint8_t out[2], uint8_t opcode, uint8_t status)
{
    out[0] = opcode;
    out[1] = status;
    return 2u;
}
