/* A fake libnvidia-ml.so.1 for the nvml driver's tests: the same symbols and calling conventions as NVML, with
 * GPUs whose power follows a curve set by environment variables (read at nvmlInit_v2), so the real FFI path
 * (koffi → dlopen → C calls) runs on a machine without a GPU. Build: gcc -shared -fPIC -o libnvidia-ml.so.1 fake-nvml.c
 *
 *   FAKE_NVML_DEVICES=N              number of GPUs (default 1, at most 16)
 *   FAKE_NVML_POWER_W=250,100        constant power per GPU, W (the last value repeats; default 200)
 *   FAKE_NVML_SQUARE=periodMs,hiW,loW  every GPU: hiW for the first half of each period, loW for the second
 *   FAKE_NVML_UPDATE_MS=100          the counter and the power reading refresh this often (0: continuously)
 *   FAKE_NVML_OFFSET_MJ=123456789    counter value when the library loaded ("since the driver loaded")
 *   FAKE_NVML_INIT_RC=0              nvmlInit_v2's return code (4: no permission, 9: driver not loaded)
 *   FAKE_NVML_ENERGY_RC=0            nvmlDeviceGetTotalEnergyConsumption's (3: not supported, as before Volta)
 *   FAKE_NVML_CALL_LOG=path          append the name of every init/shutdown call to this file
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct fake_device { int index; } *nvmlDevice_t;

#define MAXDEV 16
static struct fake_device devs[MAXDEV];
static int ndev = 1, refs = 0;
static double power_w[MAXDEV];
static long long square_period_us = 0;
static double square_hi = 0, square_lo = 0;
static long long update_us = 100000;
static unsigned long long offset_mj = 123456789ULL;
static int init_rc = 0, energy_rc = 0;
static long long origin_us = -1;

static long long mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* time since the library loaded, as the driver's counter counts from its load */
__attribute__((constructor)) static void on_load(void) { origin_us = mono_us(); }

static void log_call(const char *name) {
  const char *p = getenv("FAKE_NVML_CALL_LOG");
  if (!p || !*p) return;
  FILE *f = fopen(p, "a");
  if (!f) return;
  fprintf(f, "%s\n", name);
  fclose(f);
}

static long long env_ll(const char *name, long long dflt) {
  const char *v = getenv(name);
  return v && *v ? atoll(v) : dflt;
}

static void configure(void) {
  ndev = (int)env_ll("FAKE_NVML_DEVICES", 1);
  if (ndev < 0) ndev = 0;
  if (ndev > MAXDEV) ndev = MAXDEV;
  for (int i = 0; i < MAXDEV; i++) { devs[i].index = i; power_w[i] = 200; }
  const char *pw = getenv("FAKE_NVML_POWER_W");
  if (pw && *pw) {
    char buf[512];
    strncpy(buf, pw, sizeof buf - 1); buf[sizeof buf - 1] = 0;
    int i = 0; double last = 200;
    for (char *tok = strtok(buf, ","); tok && i < MAXDEV; tok = strtok(NULL, ","), i++) power_w[i] = last = atof(tok);
    for (; i < MAXDEV; i++) power_w[i] = last;
  }
  square_period_us = 0;
  const char *sq = getenv("FAKE_NVML_SQUARE");
  if (sq && *sq) {
    double period_ms = 0;
    if (sscanf(sq, "%lf,%lf,%lf", &period_ms, &square_hi, &square_lo) == 3 && period_ms > 0) square_period_us = (long long)(period_ms * 1000);
  }
  update_us = env_ll("FAKE_NVML_UPDATE_MS", 100) * 1000;
  offset_mj = (unsigned long long)env_ll("FAKE_NVML_OFFSET_MJ", 123456789LL);
  init_rc = (int)env_ll("FAKE_NVML_INIT_RC", 0);
  energy_rc = (int)env_ll("FAKE_NVML_ENERGY_RC", 0);
}

/* the last update at or before now: the sensor publishes on its own cycle, whatever the polling rate */
static long long last_update_us(void) {
  long long t = mono_us() - origin_us;
  return update_us > 0 ? (t / update_us) * update_us : t;
}

static double power_at(int d, long long t_us) {
  if (square_period_us > 0) return (t_us % square_period_us) < square_period_us / 2 ? square_hi : square_lo;
  return power_w[d];
}

/* exact energy from the load to t, J */
static double energy_to(int d, long long t_us) {
  if (square_period_us > 0) {
    long long full = t_us / square_period_us, rem = t_us % square_period_us, half = square_period_us / 2;
    double e = full * (square_hi * half + square_lo * (square_period_us - half)) / 1e6;
    e += rem < half ? square_hi * rem / 1e6 : (square_hi * half + square_lo * (rem - half)) / 1e6;
    return e;
  }
  return power_w[d] * t_us / 1e6;
}

nvmlReturn_t nvmlInit_v2(void) {
  log_call("nvmlInit_v2");
  configure();
  if (init_rc) return init_rc;
  refs++;
  return 0;
}

nvmlReturn_t nvmlShutdown(void) {
  log_call("nvmlShutdown");
  if (refs <= 0) return 1; /* NVML_ERROR_UNINITIALIZED */
  refs--;
  return 0;
}

const char *nvmlErrorString(nvmlReturn_t rc) {
  switch (rc) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

#define NEED_INIT() do { if (refs <= 0) return 1; } while (0)
#define DEVICE_OK(h) do { if (!(h) || (h) < devs || (h) >= devs + ndev) return 2; } while (0)

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
  NEED_INIT();
  if (!count) return 2;
  *count = (unsigned int)ndev;
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  NEED_INIT();
  if (!device || index >= (unsigned int)ndev) return 2;
  *device = &devs[index];
  return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  NEED_INIT(); DEVICE_OK(device);
  if (!name || length < 2) return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
  snprintf(name, length, "Fake H100 %d", device->index);
  return 0;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  NEED_INIT(); DEVICE_OK(device);
  if (!uuid || length < 41) return 7;
  snprintf(uuid, length, "GPU-fa4e0000-0000-4000-8000-%012d", device->index);
  return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
  NEED_INIT(); DEVICE_OK(device);
  if (energy_rc) return energy_rc;
  if (!energy) return 2;
  *energy = offset_mj + (unsigned long long)(energy_to(device->index, last_update_us()) * 1000.0);
  return 0;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
  NEED_INIT(); DEVICE_OK(device);
  if (!power) return 2;
  *power = (unsigned int)(power_at(device->index, last_update_us()) * 1000.0 + 0.5);
  return 0;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
  NEED_INIT(); DEVICE_OK(device);
  if (!limit) return 2;
  *limit = 700000;
  return 0;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  NEED_INIT();
  if (!version || length < 8) return 7;
  snprintf(version, length, "590.48.01");
  return 0;
}
