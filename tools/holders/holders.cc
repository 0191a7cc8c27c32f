// dmkit holders DEVICE [--umount [--lazy]] [--json]
//
// Shows everything that keeps a block device busy, in every mount namespace,
// and with --umount releases its mounts.
#include "tools/holders/holders.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dmioctl/device_mapper.h"
#include "tools/applet.h"
#include "tools/common/holders_scan.h"
#include "tools/common/json_writer.h"
#include "tools/holders/args.h"

namespace dmkit {
namespace {

constexpr char kUsage[] =
    "Usage: dmkit holders [--umount [--lazy]] [--json] DEVICE\n"
    "\n"
    "Shows what keeps DEVICE busy: the device-mapper open count, devices\n"
    "stacked on it, its mounts in every mount namespace (with the processes\n"
    "living there), and processes that have it open or mapped or use a\n"
    "filesystem on it.\n"
    "\n"
    "DEVICE is a device-mapper name, a block device path (/dev/dm-4,\n"
    "/dev/mapper/NAME, /dev/loop0) or MAJOR:MINOR.\n"
    "\n"
    "  --umount  unmount DEVICE in every mount namespace where it is mounted,\n"
    "            then report what still holds it. Other namespaces are done\n"
    "            first and this process's own namespace last, so a failure\n"
    "            elsewhere leaves your own view untouched. Exit status 0 only\n"
    "            if no mount is left.\n"
    "  --lazy    with --umount: detach (MNT_DETACH) instead of a normal\n"
    "            unmount, which fails while files are open there\n"
    "  --json    machine-readable output\n";

void PrintReport(const holders::Report& r) {
  printf("%s (%s)", r.kernel_name.c_str(), r.dev.ToString().c_str());
  if (!r.dm_name.empty()) printf(" dm name %s", r.dm_name.c_str());
  printf("\n");
  if (r.open_count) printf("  open count: %d\n", *r.open_count);
  if (r.stacked.empty()) {
    printf("  stacked devices: none\n");
  } else {
    printf("  stacked devices:\n");
    for (const holders::StackedDevice& s : r.stacked) {
      printf("    %s%s%s%s\n", s.kernel_name.c_str(),
             s.dm_name.empty() ? "" : " (", s.dm_name.c_str(),
             s.dm_name.empty() ? "" : ")");
    }
  }
  if (r.mounts.empty()) {
    printf("  mounts: none\n");
  } else {
    printf("  mounts:\n");
    for (const mountns::MountOfDevice& m : r.mounts) {
      std::vector<std::string> members;
      for (size_t i = 0; i < m.ns.members.size() && i < 5; ++i) {
        members.push_back(
            absl::StrCat(m.ns.members[i].pid, " (", m.ns.members[i].comm, ")"));
      }
      if (m.ns.members.size() > 5) {
        members.push_back(absl::StrCat("+", m.ns.members.size() - 5, " more"));
      }
      printf("    %s %s %s in %s%s, pids %s\n", m.mount.mount_point.c_str(),
             m.mount.fs_type.c_str(), m.mount.mount_options.c_str(),
             mountns::FormatNamespace(m.ns.inode).c_str(),
             m.ns.own ? " (this namespace)" : "",
             absl::StrJoin(members, ", ").c_str());
    }
  }
  if (r.processes.empty()) {
    printf("  processes: none\n");
  } else {
    printf("  processes:\n");
    for (const holders::ProcessUse& p : r.processes) {
      std::vector<std::string> how;
      if (!p.device_fds.empty()) {
        how.push_back(absl::StrCat("device open on fd ",
                                   absl::StrJoin(p.device_fds, ",")));
      }
      if (p.device_mapped) how.push_back("device mapped");
      if (!p.filesystem_fds.empty()) {
        how.push_back(absl::StrCat("files open on fd ",
                                   absl::StrJoin(p.filesystem_fds, ",")));
      }
      if (p.cwd_on_filesystem) how.push_back("working directory there");
      if (p.root_on_filesystem) how.push_back("root directory there");
      printf("    %d (%s): %s\n", p.pid, p.comm.c_str(),
             absl::StrJoin(how, "; ").c_str());
    }
  }
  for (pid_t pid : r.unreadable.inaccessible) {
    printf("  note: could not read the namespace of pid %d\n", pid);
  }
  for (const auto& f : r.unreadable.failed) {
    printf("  note: could not read mounts of %s: %s\n",
           mountns::FormatNamespace(f.inode).c_str(),
           std::string(f.status.message()).c_str());
  }
}

void PrintJson(const holders::Report& r) {
  json::Writer w;
  w.BeginObject();
  w.Key("device").String(r.dev.ToString());
  w.Key("kernel_name").String(r.kernel_name);
  if (r.dm_name.empty()) {
    w.Key("dm_name").Null();
  } else {
    w.Key("dm_name").String(r.dm_name);
  }
  if (r.open_count) {
    w.Key("open_count").Int(*r.open_count);
  } else {
    w.Key("open_count").Null();
  }
  w.Key("busy").Bool(r.busy());
  w.Key("stacked").BeginArray();
  for (const holders::StackedDevice& s : r.stacked) {
    w.BeginObject().Key("kernel_name").String(s.kernel_name);
    w.Key("dm_name").String(s.dm_name).EndObject();
  }
  w.EndArray();
  w.Key("mounts").BeginArray();
  for (const mountns::MountOfDevice& m : r.mounts) {
    w.BeginObject();
    w.Key("namespace").Uint(m.ns.inode);
    w.Key("own_namespace").Bool(m.ns.own);
    w.Key("mount_point").String(m.mount.mount_point);
    w.Key("mount_id").Uint(m.mount.mount_id);
    w.Key("fs_type").String(m.mount.fs_type);
    w.Key("options").String(m.mount.mount_options);
    w.Key("pids").BeginArray();
    for (const mountns::NamespaceMember& p : m.ns.members) {
      w.BeginObject().Key("pid").Int(p.pid).Key("comm").String(p.comm);
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  w.Key("processes").BeginArray();
  for (const holders::ProcessUse& p : r.processes) {
    w.BeginObject().Key("pid").Int(p.pid).Key("comm").String(p.comm);
    w.Key("device_fds").BeginArray();
    for (int fd : p.device_fds) w.Int(fd);
    w.EndArray().Key("device_mapped").Bool(p.device_mapped);
    w.Key("filesystem_fds").BeginArray();
    for (int fd : p.filesystem_fds) w.Int(fd);
    w.EndArray();
    w.Key("cwd_on_filesystem").Bool(p.cwd_on_filesystem);
    w.Key("root_on_filesystem").Bool(p.root_on_filesystem);
    w.EndObject();
  }
  w.EndArray();
  w.Key("unreadable_pids").BeginArray();
  for (pid_t pid : r.unreadable.inaccessible) w.Int(pid);
  w.EndArray();
  w.EndObject();
  fputs(w.Take().c_str(), stdout);
}

void Print(const holders::Report& r, bool json) {
  if (json) {
    PrintJson(r);
  } else {
    PrintReport(r);
  }
}

// Unmounts every mount of the device; other namespaces first, our own last.
// Returns the first error, after trying all of them.
// Progress goes to `progress` (stderr with --json, so stdout stays one JSON
// document).
absl::Status UnmountAll(const holders::Report& r, bool lazy, FILE* progress) {
  absl::Status first;
  mountns::UnmountMode mode =
      lazy ? mountns::UnmountMode::kLazy : mountns::UnmountMode::kNormal;
  for (int pass = 0; pass < 2; ++pass) {
    // Mounts stacked on top of each other are unmounted newest first.
    for (auto it = r.mounts.rbegin(); it != r.mounts.rend(); ++it) {
      if (it->ns.own != (pass == 1)) continue;
      absl::Status s = mountns::Unmount(it->ns, it->mount.mount_point, mode);
      if (s.ok()) {
        fprintf(progress, "unmounted %s in %s\n", it->mount.mount_point.c_str(),
                mountns::FormatNamespace(it->ns.inode).c_str());
      } else {
        fprintf(stderr, "holders: %s\n", std::string(s.message()).c_str());
        if (first.ok()) first = s;
      }
    }
  }
  return first;
}

}  // namespace

namespace holders {

int Run(dmioctl::DeviceMapper* dm, int argc, char** argv) {
  absl::StatusOr<Args> parsed = ParseArgs(argc, argv);
  if (!parsed.ok()) {
    fprintf(stderr, "holders: %s\nTry 'dmkit holders --help'.\n",
            std::string(parsed.status().message()).c_str());
    return 1;
  }
  const Args& options = *parsed;
  if (options.help) {
    fputs(kUsage, stdout);
    return 0;
  }
  auto dev = ResolveDevice(options.device, dm);
  if (!dev.ok()) {
    fprintf(stderr, "holders: %s\n",
            std::string(dev.status().message()).c_str());
    return 1;
  }
  auto report = Scan(*dev, dm);
  if (!report.ok()) {
    fprintf(stderr, "holders: %s: %s\n", options.device.c_str(),
            std::string(report.status().message()).c_str());
    return 1;
  }
  if (!options.umount) {
    Print(*report, options.json);
    return 0;
  }
  absl::Status unmounted =
      UnmountAll(*report, options.lazy, options.json ? stderr : stdout);
  auto after = Scan(*dev, dm);
  if (!after.ok()) {
    fprintf(stderr, "holders: %s\n",
            std::string(after.status().message()).c_str());
    return 1;
  }
  Print(*after, options.json);
  return unmounted.ok() && after->mounts.empty() ? 0 : 1;
}

}  // namespace holders

int HoldersMain(int argc, char** argv) {
  // device-mapper is optional: loop devices and disks work without it.
  absl::StatusOr<dmioctl::DeviceMapper*> dm = dmioctl::DeviceMapper::Instance();
  return holders::Run(dm.ok() ? *dm : nullptr, argc, argv);
}

}  // namespace dmkit
