/* device.c - the --device names (gpu.h). */
#include <string.h>

#include "gpu.h"

int r1_device_parse(const char *name, R1Device *out, R1Err *err) {
    if (strcmp(name, "cpu") == 0) {
        *out = R1_DEVICE_CPU;
        return 0;
    }
    if (strcmp(name, "cuda") == 0) {
        *out = R1_DEVICE_CUDA;
        return 0;
    }
    return r1_seterr(err, "--device: unknown device '%s' (expected cpu or cuda)", name);
}
