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
 *   FAKE_NVML_MIG=0:3g.40gb,-,1g.10gb;1:
 *                                    GPUs in MIG mode (the others report it disabled), each with its MIG device slots
 *                                    by index: a profile (the slice's name ends "MIG <profile>"), `-` an empty slot
 *                                    (NVML_ERROR_NOT_FOUND), `*` a slice whose name carries no profile; nothing after
 *                                    the colon: MIG on, no slice created
 *   FAKE_NVML_MIG_MAX=7              nvmlDeviceGetMaxMigDeviceCount on a GPU in MIG mode (0 on the others)
 * Built with -DFAKE_NVML_NO_MIG it lacks the MIG functions, as a libnvidia-ml older than MIG (R450) does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
/* a GPU (mig = -1) or one of its MIG devices (mig = slot): NVML hands out both kinds through the same handle type */
typedef struct fake_device { int index; int mig; } *nvmlDevice_t;

#define MAXDEV 16
#define MAXMIG 8
static struct fake_device devs[MAXDEV];
static struct fake_device migdevs[MAXDEV][MAXMIG];
static int mig_on[MAXDEV], mig_max = 7;
static char mig_profile[MAXDEV][MAXMIG][32]; /* "" for an empty slot */
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
  for (int i = 0; i < MAXDEV; i++) {
    devs[i].index = i; devs[i].mig = -1; power_w[i] = 200; mig_on[i] = 0;
    for (int j = 0; j < MAXMIG; j++) { migdevs[i][j].index = i; migdevs[i][j].mig = j; mig_profile[i][j][0] = 0; }
  }
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
  mig_max = (int)env_ll("FAKE_NVML_MIG_MAX", 7);
  if (mig_max < 0) mig_max = 0;
  if (mig_max > MAXMIG) mig_max = MAXMIG;
  const char *mig = getenv("FAKE_NVML_MIG");
  if (mig && *mig) {
    char buf[1024];
    strncpy(buf, mig, sizeof buf - 1); buf[sizeof buf - 1] = 0;
    char *save_gpu = NULL;
    for (char *g = strtok_r(buf, ";", &save_gpu); g; g = strtok_r(NULL, ";", &save_gpu)) {
      char *colon = strchr(g, ':');
      if (!colon) continue;
      *colon = 0;
      int gpu = atoi(g);
      if (gpu < 0 || gpu >= MAXDEV) continue;
      mig_on[gpu] = 1;
      char *save_slot = NULL;
      int slot = 0;
      /* strtok_r skips empty fields, so an empty slot is written `-` */
      for (char *p = strtok_r(colon + 1, ",", &save_slot); p && slot < MAXMIG; p = strtok_r(NULL, ",", &save_slot), slot++) {
        if (strcmp(p, "-") != 0) snprintf(mig_profile[gpu][slot], sizeof mig_profile[gpu][slot], "%s", p);
      }
    }
  }
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
/* a GPU handle; MIG device handles are refused here, as NVML refuses them for board-level readings */
#define DEVICE_OK(h) do { if (!(h) || (h) < devs || (h) >= devs + ndev) return 2; } while (0)

static int is_mig_handle(nvmlDevice_t h) {
  return h && h >= &migdevs[0][0] && h < &migdevs[0][0] + MAXDEV * MAXMIG && h->index < ndev && mig_on[h->index] && mig_profile[h->index][h->mig][0];
}
/* a GPU handle or a live MIG device handle (name and UUID answer for both) */
#define ANY_OK(h) do { if (!is_mig_handle(h)) DEVICE_OK(h); } while (0)

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
  NEED_INIT(); ANY_OK(device);
  if (!name || length < 2) return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
  if (device->mig < 0) snprintf(name, length, "Fake H100 %d", device->index);
  else if (strcmp(mig_profile[device->index][device->mig], "*") == 0) snprintf(name, length, "Fake H100 %d slice", device->index);
  else snprintf(name, length, "Fake H100 %d MIG %s", device->index, mig_profile[device->index][device->mig]);
  return 0;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  NEED_INIT(); ANY_OK(device);
  if (!uuid || length < 41) return 7;
  if (device->mig < 0) snprintf(uuid, length, "GPU-fa4e0000-0000-4000-8000-%012d", device->index);
  else snprintf(uuid, length, "MIG-5a1ce%03d-0000-4000-8000-%012d", device->index, device->mig);
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

#ifndef FAKE_NVML_NO_MIG
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
  NEED_INIT(); DEVICE_OK(device);
  if (!currentMode || !pendingMode) return 2;
  *currentMode = *pendingMode = (unsigned int)mig_on[device->index]; /* NVML_DEVICE_MIG_ENABLE = 1 */
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) {
  NEED_INIT(); DEVICE_OK(device);
  if (!count) return 2;
  *count = mig_on[device->index] ? (unsigned int)mig_max : 0; /* "zero if MIG is not supported or enabled" */
  return 0;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice) {
  NEED_INIT(); DEVICE_OK(device);
  if (!mig_on[device->index]) return 3; /* NVML_ERROR_NOT_SUPPORTED */
  if (!migDevice || index >= (unsigned int)mig_max) return 2;
  if (!mig_profile[device->index][index][0]) return 6; /* NVML_ERROR_NOT_FOUND: no MIG device in this slot */
  *migDevice = &migdevs[device->index][index];
  return 0;
}
#endif
