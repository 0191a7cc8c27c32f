#include "tools/docker/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "dmioctl/table.h"
#include "tools/common/loop_device.h"
#include "tools/docker/devices.h"
#include "tools/docker/fault.h"
#include "tools/docker/mounts.h"  // Describe

namespace dmkit::docker {
namespace {

using dmkit::ErrnoError;

// One file to grow, and how far that got (for the undo).
struct FileGrow {
  const char* what = nullptr;  // "data" or "metadata"
  const std::string* path = nullptr;
  uint64_t new_bytes = 0;
  uint64_t old_bytes = 0;
  struct stat st;
  int fd = -1;
  std::vector<std::string> loops;  // loop devices over the file
  size_t refreshed = 0;            // loops[0, refreshed) took the new size
  bool grown = false;

  ~FileGrow() {
    if (fd >= 0) close(fd);
  }

  // Back to the old size, unless something was written past it (then the
  // grown file is what holds that data). Returns what could not be undone.
  std::string Undo() {
    if (!grown) return "";
    off_t data = lseek(fd, static_cast<off_t>(old_bytes), SEEK_DATA);
    const char* why = data >= 0 || errno != ENXIO ? "written past its old size"
                      : ftruncate(fd, static_cast<off_t>(old_bytes)) != 0
                          ? strerror(errno)
                          : nullptr;
    if (why != nullptr) {
      return absl::StrCat("; ", *path, " stays at ", new_bytes, " bytes (", why,
                          ")");
    }
    std::string left;
    for (size_t i = 0; i < refreshed; ++i) {
      if (absl::StatusOr<uint64_t> r = SetLoopCapacity(loops[i]); !r.ok()) {
        absl::StrAppend(&left, "; ", r.status().message());
      }
    }
    return left;
  }
};

// `status` with text around its message; its payloads (the errno among
// them) kept.
absl::Status Annotated(const absl::Status& status, absl::string_view before,
                       absl::string_view after) {
  absl::Status out(status.code(),
                   absl::StrCat(before, status.message(), after));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    out.SetPayload(url, value);
  });
  return out;
}

// The first error, naming the pool, after undoing the steps done so far;
// what the undo could not do is added to the message.
absl::Status Failed(const absl::Status& status, const std::string& pool,
                    FileGrow* grows, int count) {
  std::string left;
  for (int i = count - 1; i >= 0; --i) left += grows[i].Undo();
  bool named = absl::StrContains(status.message(), pool);
  return Annotated(status, named ? "" : absl::StrCat("pool ", pool, ": "),
                   left);
}

std::string Size(uint64_t bytes) {
  return absl::StrCat(HumanBytes(bytes), " (", bytes, " bytes)");
}

std::string FreeBlocks(const char* when, const PoolState& pool) {
  const auto& s = pool.status;
  return absl::StrCat(
      "free blocks ", when, s.total_data_blocks - s.used_data_blocks, "/",
      s.total_data_blocks, " data, ",
      s.total_metadata_blocks - s.used_metadata_blocks, "/",
      s.total_metadata_blocks, " metadata, mode ", s.mode, "\n");
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  static constexpr char kUnits[] = "KMGT";
  absl::string_view digits = text;
  int shift = 0;
  if (!text.empty()) {
    if (const char* u = strchr(kUnits, absl::ascii_toupper(text.back()));
        u != nullptr && *u != '\0') {
      shift = 10 * static_cast<int>(u - kUnits + 1);
      digits.remove_suffix(1);
    }
  }
  uint64_t n = 0;
  bool ok = !digits.empty();
  for (char c : digits) {
    ok = ok && absl::ascii_isdigit(c) && n <= (UINT64_MAX - 9) / 10;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || n == 0 || n > (UINT64_MAX >> shift)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid size '", text,
        "': a positive number of bytes, optionally with K, M, G or T"));
  }
  return n << shift;
}

absl::StatusOr<std::string> GrowLoopPool(dmioctl::DeviceMapper& dm,
                                         const std::string& pool_name,
                                         const PoolFiles& files,
                                         const GrowRequest& request,
                                         const std::string& dev_dir) {
  FileGrow grows[2];
  int count = 0;
  auto add = [&](const char* what, const std::string& path, uint64_t bytes) {
    grows[count].what = what;
    grows[count].path = &path;
    grows[count++].new_bytes = bytes;
  };
  if (request.data_bytes) add("data", files.data, *request.data_bytes);
  if (request.metadata_bytes) {
    if (*request.metadata_bytes > kMaxThinMetadataBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to grow the metadata past ", kMaxThinMetadataBytes,
          " bytes, the most the kernel uses"));
    }
    add("metadata", files.metadata, *request.metadata_bytes);
  }
  if (count == 0) return absl::InvalidArgumentError("nothing to grow");

  // Everything is checked before the first change.
  for (int i = 0; i < count; ++i) {
    FileGrow& g = grows[i];
    g.fd = open(g.path->c_str(), O_RDWR | O_CLOEXEC);
    if (g.fd < 0 || fstat(g.fd, &g.st) != 0) {
      return ErrnoError(errno, absl::StrCat("open ", *g.path, " (the pool's ",
                                            g.what, " file)"));
    }
    g.old_bytes = static_cast<uint64_t>(g.st.st_size);
    if (g.new_bytes <= g.old_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(g.new_bytes < g.old_bytes ? "refusing to shrink"
                                                 : "nothing to grow in",
                       " the ", g.what, " file ", *g.path, ", which is ",
                       Size(g.old_bytes), ": give a larger size"));
    }
  }

  absl::StatusOr<PoolState> before = GetPoolState(dm, pool_name);
  const bool active = before.ok();
  if (!active && dmkit::ErrnoOf(before.status()) != ENXIO) {
    return Failed(before.status(), pool_name, grows, 0);
  }
  dmioctl::Table table;
  if (active) {
    const auto& s = before->status;
    std::string refusal =
        before->info.suspended() ? "is suspended; resume it first"
        : s.failed || s.error || s.needs_check
            ? "is failed or flagged needs_check: the kernel does not grow it "
              "until its metadata is repaired (thin_check, thin_repair)"
            : "";
    if (!refusal.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("pool ", pool_name, " ", refusal));
    }
    absl::StatusOr<dmioctl::Target> target =
        dmioctl::ParseTargetLine(before->table_line);
    if (!target.ok()) return Failed(target.status(), pool_name, grows, 0);
    table.targets.push_back(std::move(*target));
    table.read_only = before->info.read_only();
    for (int i = 0; i < count; ++i) {
      FileGrow& g = grows[i];
      bool data = g.path == &files.data;
      const std::string& dev_text =
          data ? before->params.data_dev : before->params.metadata_dev;
      // The pool's loop device: /dev/loopN is 7:N (loop's max_part=0, as
      // Docker's hosts have it); its number and backing file are checked.
      absl::StatusOr<dmioctl::DevNum> dev = dmioctl::DevNum::Parse(dev_text);
      std::string node =
          dev.ok() ? absl::StrCat(dev_dir, "/loop", dev->minor) : "";
      absl::StatusOr<LoopBacking> b = GetLoopBacking(node);
      if (!dev.ok() || dev->major != 7 || !b.ok() || b->rdev != dev->ToDevT() ||
          b->file_dev != static_cast<uint64_t>(g.st.st_dev) ||
          b->inode != static_cast<uint64_t>(g.st.st_ino)) {
        return absl::FailedPreconditionError(
            absl::StrCat("pool ", pool_name, ": its ", g.what, " device ",
                         dev_text, " is not a loop device over ", *g.path,
                         "; only loop-lvm pools are grown here"));
      }
      g.loops.push_back(std::move(node));
      if (!data) continue;
      uint64_t block = before->params.options.data_block_sectors;
      uint64_t sectors = g.new_bytes / 512 / block * block;
      if (sectors <= table.targets[0].length) {
        return absl::InvalidArgumentError(
            absl::StrCat("growing the data file to ", g.new_bytes,
                         " bytes adds no whole data block to the pool"));
      }
      table.targets[0].length = sectors;
    }
  } else {
    for (int i = 0; i < count; ++i) {
      grows[i].loops =
          LoopNodesBacking(grows[i].st.st_dev, grows[i].st.st_ino, dev_dir);
    }
  }

  std::string report;
  for (int i = 0; i < count; ++i) {
    FileGrow& g = grows[i];
    if (FaultInjected("ftruncate", *g.path) ||
        ftruncate(g.fd, static_cast<off_t>(g.new_bytes)) != 0) {
      return Failed(ErrnoError(errno, absl::StrCat("ftruncate ", *g.path)),
                    pool_name, grows, count);
    }
    g.grown = true;
    absl::StrAppend(&report, "grew ", g.what, " file ", *g.path, ": ",
                    Size(g.old_bytes), " -> ", Size(g.new_bytes), "\n");
    for (const std::string& node : g.loops) {
      absl::StatusOr<uint64_t> size =
          FaultInjected("LOOP_SET_CAPACITY", node)
              ? ErrnoError(errno, absl::StrCat("LOOP_SET_CAPACITY ", node))
              : SetLoopCapacity(node);
      if (size.ok()) ++g.refreshed;
      if (size.ok() && *size < g.new_bytes / 512 * 512) {
        size = absl::FailedPreconditionError(
            absl::StrCat(node, " did not take the new size"));
      }
      if (!size.ok()) return Failed(size.status(), pool_name, grows, count);
      absl::StrAppend(&report, "refreshed ", node, ": ", Size(*size), "\n");
    }
  }

  if (!active) {
    absl::StrAppend(&report, "pool ", pool_name,
                    " is not active: `dmkit docker pool --activate` builds it "
                    "from the grown files\n");
    return report;
  }
  absl::StatusOr<dmioctl::DeviceInfo> resumed = dmioctl::ReloadTable(
      dm, dmioctl::DeviceRef::ByName(pool_name), table, /*resume=*/true);
  if (!resumed.ok()) return Failed(resumed.status(), pool_name, grows, count);
  absl::StrAppend(&report, "reloaded ", pool_name,
                  " and resumed: ", dmioctl::FormatTable(table),
                  FreeBlocks("before: ", *before));
  // The grow is done; the new state is only reported.
  absl::StatusOr<PoolState> after = GetPoolState(dm, pool_name);
  if (!after.ok()) {
    absl::StrAppend(&report, "free blocks after: unknown (",
                    Describe(after.status()), ")\n");
  } else {
    report += FreeBlocks("after:  ", *after);
  }
  return report;
}

}  // namespace dmkit::docker
