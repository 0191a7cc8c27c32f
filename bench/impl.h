// File: bench/impl.h
//
// The three ways the benchmarks talk to device-mapper, behind one interface
// so every benchmark runs the same sequence through each of them:
//
//   bare      raw ioctls from fixed buffers, no parsing: the floor
//   dmioctl   this project's library (DeviceMapper, CreateDevice, ...)
//   libdm     libdevmapper's dm_task API, udev sync off, as dmsetup uses it
//
// Every call returns 0 or a negative errno (libdm: -EIO when it gives no
// errno). Calls print nothing on success; on failure they print what failed
// to stderr, so a broken benchmark says why.
#ifndef DMKIT_BENCH_IMPL_H_
#define DMKIT_BENCH_IMPL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "dmioctl/device_mapper.h"
#include "dmioctl/table.h"

namespace dmkit::bench {

// A device as each implementation likes to address it: by name, with the
// library's reference built once (as a caller holding a device would).
struct Dev {
  explicit Dev(std::string n)
      : name(std::move(n)), ref(dmioctl::DeviceRef::ByName(name)) {}
  std::string name;
  dmioctl::DeviceRef ref;
};

// A one-target table in both forms.
struct OneTarget {
  OneTarget(uint64_t length, std::string type, std::string params)
      : length(length), type(std::move(type)), params(std::move(params)) {
    table.targets.push_back({.start = 0,
                             .length = length,
                             .type = this->type,
                             .params = this->params});
  }
  uint64_t length;
  std::string type;
  std::string params;
  dmioctl::Table table;
};

class Impl {
 public:
  virtual ~Impl() = default;
  virtual const char* name() const = 0;

  // Single ioctls (libdm: single dm_task runs, with its node handling).
  virtual int Create(const Dev& dev) = 0;  // DM_DEV_CREATE, no table
  virtual int Load(const Dev& dev, const OneTarget& table) = 0;
  virtual int Resume(const Dev& dev) = 0;
  virtual int Suspend(const Dev& dev) = 0;
  virtual int Info(const Dev& dev) = 0;
  virtual int Status(const Dev& dev) = 0;
  virtual int Table(const Dev& dev) = 0;
  // Lists every device; `*count` is how many.
  virtual int List(size_t* count) = 0;
  virtual int Message(const Dev& dev, const char* message) = 0;
  virtual int Remove(const Dev& dev) = 0;

  // What `dmsetup create NAME --table T` and `dmsetup remove NAME` do:
  // create, load, resume and the /dev/mapper node; remove and unlink it.
  virtual int CreateActive(const Dev& dev, const OneTarget& table) = 0;
  virtual int RemoveActive(const Dev& dev) = 0;
};

// `name` other than "bare": a second copy of the floor in another
// implementation's place, to calibrate the harness (dm_bench --calibrate).
std::unique_ptr<Impl> MakeBare(const char* name = "bare");
std::unique_ptr<Impl> MakeDmioctl(dmioctl::DeviceMapper* dm);
std::unique_ptr<Impl> MakeLibdm();

}  // namespace dmkit::bench

#endif  // DMKIT_BENCH_IMPL_H_
