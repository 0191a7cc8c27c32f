// Guest smoke test: the kernel answers DM_VERSION on /dev/mapper/control with
// interface major 4. Also prints the loaded targets (DM_LIST_VERSIONS) to
// show which modules the guest has. Statically linked; runs as /init's child.
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

constexpr char kControl[] = "/dev/mapper/control";

void Init(dm_ioctl* io, size_t size) {
  std::memset(io, 0, size);
  io->version[0] = 4;
  io->version[1] = 0;
  io->version[2] = 0;
  io->data_size = static_cast<__u32>(size);
  io->data_start = sizeof(dm_ioctl);
}

// Prints "name vX.Y.Z" for every target type the kernel knows.
void PrintTargets(int fd) {
  std::vector<unsigned char> buf(16384);
  auto* io = reinterpret_cast<dm_ioctl*>(buf.data());
  Init(io, buf.size());
  if (ioctl(fd, DM_LIST_VERSIONS, io) != 0) {
    std::printf("DM_LIST_VERSIONS failed: %s\n", std::strerror(errno));
    return;
  }
  if (io->flags & DM_BUFFER_FULL_FLAG) {
    std::printf("DM_LIST_VERSIONS: buffer too small\n");
    return;
  }
  std::printf("targets:");
  size_t off = io->data_start;
  while (off + sizeof(dm_target_versions) <= io->data_size) {
    auto* t = reinterpret_cast<const dm_target_versions*>(buf.data() + off);
    std::printf(" %s-%u.%u.%u", t->name, t->version[0], t->version[1],
                t->version[2]);
    if (t->next == 0) break;
    off += t->next;
  }
  std::printf("\n");
}

}  // namespace

int main() {
  int fd = open(kControl, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::printf("open %s: %s\n", kControl, std::strerror(errno));
    return 1;
  }
  dm_ioctl io;
  Init(&io, sizeof io);
  if (ioctl(fd, DM_VERSION, &io) != 0) {
    std::printf("DM_VERSION: %s\n", std::strerror(errno));
    close(fd);
    return 1;
  }
  std::printf("device-mapper ioctl interface %u.%u.%u\n", io.version[0],
              io.version[1], io.version[2]);
  PrintTargets(fd);
  close(fd);
  if (io.version[0] != DM_VERSION_MAJOR) {
    std::printf("expected interface major %d\n", DM_VERSION_MAJOR);
    return 1;
  }
  return 0;
}
