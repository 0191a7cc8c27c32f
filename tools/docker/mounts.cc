#include "tools/docker/mounts.h"

#include <errno.h>
#include <sys/mount.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dmkit/status.h"
#include "mountns/mount_namespaces.h"
#include "mountns/mountinfo.h"
#include "tools/docker/fault.h"

namespace dmkit::docker {

std::string NamespaceMount::Describe() const {
  std::string who;
  if (own) {
    who = "(this namespace)";
  } else if (members.empty()) {
    who = "(no process)";
  } else {
    who = absl::StrCat("pid ", members[0].first, " (", members[0].second, ")");
    if (members.size() > 1) {
      absl::StrAppend(&who, " +", members.size() - 1, " more");
    }
  }
  return absl::StrCat(mountns::FormatNamespace(ns_inode), " ", who, " ",
                      mount_point);
}

absl::StatusOr<MountTable> MountTable::Scan() {
  MountTable table;
  mountns::ScanReport report;
  absl::StatusOr<std::vector<mountns::MountNamespace>> namespaces =
      mountns::ListMountNamespaces(&report);
  if (!namespaces.ok()) return namespaces.status();
  for (const mountns::MountNamespace& ns : *namespaces) {
    absl::StatusOr<std::vector<mountns::MountInfo>> mounts =
        mountns::ReadNamespaceMountInfo(ns);
    if (!mounts.ok()) {
      table.warnings_.push_back(absl::StrCat(mountns::FormatNamespace(ns.inode),
                                             ": ", mounts.status().message()));
      continue;
    }
    for (const mountns::MountInfo& m : *mounts) {
      NamespaceMount nm;
      nm.ns_inode = ns.inode;
      nm.own = ns.own;
      for (const mountns::NamespaceMember& member : ns.members) {
        nm.members.emplace_back(member.pid, member.comm);
      }
      nm.mount_point = m.mount_point;
      nm.fs_type = m.fs_type;
      nm.options = absl::StrCat(m.mount_options, " ", m.super_options);
      table.mounts_.emplace_back(m.dev(), std::move(nm));
    }
  }
  for (const mountns::ScanReport::Failure& f : report.failed) {
    table.warnings_.push_back(absl::StrCat(mountns::FormatNamespace(f.inode),
                                           ": ", f.status.message()));
  }
  return table;
}

std::vector<NamespaceMount> MountTable::OfDevice(dev_t dev) const {
  // The caller's namespace first: that is where a user can act directly.
  std::vector<NamespaceMount> out;
  for (bool own : {true, false}) {
    for (const auto& [d, m] : mounts_) {
      if (d == dev && m.own == own) out.push_back(m);
    }
  }
  return out;
}

absl::StatusOr<std::vector<OwnMount>> OwnMounts() {
  absl::StatusOr<std::vector<mountns::MountInfo>> mounts =
      mountns::ReadMountInfoFile("/proc/self/mountinfo");
  if (!mounts.ok()) return mounts.status();
  std::vector<OwnMount> out;
  for (const mountns::MountInfo& m : *mounts) {
    out.push_back(
        {m.mount_point, m.dev(), m.source, m.fs_type, m.mount_options});
  }
  return out;
}

absl::StatusOr<std::string> DetectFilesystem(const std::string& device) {
  return mountns::DetectFilesystemType(device);
}

absl::StatusOr<mountns::ScopedMount> MountDevice(const std::string& device,
                                                 const std::string& target,
                                                 const std::string& fs_type,
                                                 const std::string& options,
                                                 bool read_only) {
  if (FaultInjected("mount", target)) {
    return dmkit::ErrnoError(errno,
                             absl::StrCat("mount ", device, " on ", target));
  }
  return mountns::ScopedMount::Create({.source = device,
                                       .target = target,
                                       .fs_type = fs_type,
                                       .options = options,
                                       .read_only = read_only});
}

absl::Status UnmountOwn(const std::string& target) {
  if (FaultInjected("umount", target) ||
      umount2(target.c_str(), UMOUNT_NOFOLLOW) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat("umount ", target));
  }
  return absl::OkStatus();
}

absl::Status MountAgain(const OwnMount& mount) {
  static constexpr struct {
    absl::string_view option;
    unsigned long flag;
  } kFlags[] = {{"ro", MS_RDONLY},
                {"nosuid", MS_NOSUID},
                {"nodev", MS_NODEV},
                {"noexec", MS_NOEXEC},
                {"noatime", MS_NOATIME},
                {"nodiratime", MS_NODIRATIME},
                {"strictatime", MS_STRICTATIME}};
  unsigned long flags = 0;
  for (absl::string_view option : absl::StrSplit(mount.options, ',')) {
    for (const auto& f : kFlags) {
      if (option == f.option) flags |= f.flag;
    }
  }
  if (FaultInjected("mount", mount.mount_point)) {
    return dmkit::ErrnoError(
        errno, absl::StrCat("mount ", mount.source, " on ", mount.mount_point));
  }
  return mountns::Mount({.source = mount.source,
                         .target = mount.mount_point,
                         .fs_type = mount.fs_type,
                         .options = mount.fs_type == "xfs" ? "nouuid" : "",
                         .flags = flags});
}

std::string Describe(const absl::Status& status) {
  int e = ErrnoOf(status);
  if (e == 0) return std::string(status.message());
  return absl::StrCat(status.message(), " [errno ", e, "]");
}

absl::Status About(absl::string_view device, const absl::Status& status) {
  if (ErrnoOf(status) == 0 || absl::StrContains(status.message(), device)) {
    return status;
  }
  return absl::Status(status.code(),
                      absl::StrCat(device, ": ", Describe(status)));
}

}  // namespace dmkit::docker
