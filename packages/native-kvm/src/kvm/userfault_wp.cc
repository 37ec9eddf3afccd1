#include "userfault_wp.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "system_error.h"
#include "uckpt/core/clock.h"

// Newer than the build host's kernel headers may be (Linux 6.4).
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif

namespace uckpt::kvm {
namespace {

constexpr uint64_t kPage = 4096;

// The syscall, or /dev/userfaultfd where the sysctl
// vm.unprivileged_userfaultfd forbids the syscall for faults in the kernel
// (KVM's accesses to guest RAM are such faults).
int new_userfaultfd() {
  int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd >= 0) return fd;
  const int syscall_errno = errno;
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    const int dev_errno = errno;
    close(dev);
    if (fd >= 0) return fd;
    throw SystemError("userfaultfd: USERFAULTFD_IOC_NEW on /dev/userfaultfd", dev_errno);
  }
  if (syscall_errno == EPERM) {
    throw std::runtime_error(
        "userfaultfd is not permitted for this process (the sysctl vm.unprivileged_userfaultfd is 0 and the "
        "process lacks CAP_SYS_PTRACE) and /dev/userfaultfd cannot be opened");
  }
  throw SystemError("userfaultfd", syscall_errno);
}

void writeprotect(int uffd, uint64_t start, uint64_t length, uint64_t mode) {
  uffdio_writeprotect wp{};
  wp.range.start = start;
  wp.range.len = length;
  wp.mode = mode;
  while (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
    if (errno != EAGAIN) throw SystemError(mode ? "UFFDIO_WRITEPROTECT" : "UFFDIO_WRITEPROTECT (unprotect)", errno);
  }
}

// Calls fn(first, count) for every run of set bits.
template <typename Fn>
void for_each_run(const core::Bitmap& pages, Fn&& fn) {
  uint64_t start = 0, length = 0;
  pages.for_each([&](uint64_t pfn) {
    if (length && pfn == start + length) {
      length++;
      return;
    }
    if (length) fn(start, length);
    start = pfn;
    length = 1;
  });
  if (length) fn(start, length);
}

}  // namespace

Fd open_write_protect_userfaultfd() {
  // The features on offer first (UFFDIO_API can be called once per fd).
  Fd probe(new_userfaultfd());
  uffdio_api api{};
  api.api = UFFD_API;
  check(ioctl(probe.get(), UFFDIO_API, &api), "UFFDIO_API");
  const uint64_t wanted = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED;
  if ((api.features & wanted) != wanted) {
    std::string missing;
    if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) missing += " UFFD_FEATURE_PAGEFAULT_FLAG_WP";
    if (!(api.features & UFFD_FEATURE_WP_UNPOPULATED)) missing += " UFFD_FEATURE_WP_UNPOPULATED";
    throw std::runtime_error("this kernel's userfaultfd lacks write protection of anonymous memory:" + missing);
  }
  Fd uffd(new_userfaultfd());
  api = {};
  api.api = UFFD_API;
  api.features = wanted;
  check(ioctl(uffd.get(), UFFDIO_API, &api), "UFFDIO_API (write protection)");
  return uffd;
}

UserfaultWriteProtect::UserfaultWriteProtect(uint8_t* base, uint64_t bytes) : base_(base), bytes_(bytes) {
  uffd_ = open_write_protect_userfaultfd();
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uint64_t>(base);
  reg.range.len = bytes;
  reg.mode = UFFDIO_REGISTER_MODE_WP;
  check(ioctl(uffd_.get(), UFFDIO_REGISTER, &reg), "UFFDIO_REGISTER (write protection of guest RAM)");
  if (!(reg.ioctls & (uint64_t{1} << _UFFDIO_WRITEPROTECT))) {
    throw std::runtime_error("UFFDIO_WRITEPROTECT is not available on guest RAM");
  }
  int event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event < 0) throw SystemError("eventfd", errno);
  stop_event_ = Fd(event);
}

UserfaultWriteProtect::~UserfaultWriteProtect() {
  // Closing the userfaultfd wakes every blocked writer and unregisters the range.
  try {
    stop();
  } catch (...) {
  }
}

void UserfaultWriteProtect::protect(const core::Bitmap& pages) {
  const uint64_t base = reinterpret_cast<uint64_t>(base_);
  for_each_run(pages, [&](uint64_t first, uint64_t count) {
    writeprotect(uffd_.get(), base + first * kPage, count * kPage, UFFDIO_WRITEPROTECT_MODE_WP);
  });
}

void UserfaultWriteProtect::unprotect(const core::Bitmap& pages) {
  const uint64_t base = reinterpret_cast<uint64_t>(base_);
  for_each_run(pages, [&](uint64_t first, uint64_t count) {
    writeprotect(uffd_.get(), base + first * kPage, count * kPage, 0);
  });
}

void UserfaultWriteProtect::unprotect_range(uint64_t first_page, uint64_t pages) {
  writeprotect(uffd_.get(), reinterpret_cast<uint64_t>(base_) + first_page * kPage, pages * kPage, 0);
}

std::optional<uint64_t> UserfaultWriteProtect::next_fault() {
  for (;;) {
    pollfd fds[2] = {{uffd_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw SystemError("poll(userfaultfd)", errno);
    }
    if (fds[1].revents) return std::nullopt;
    uffd_msg msg;
    ssize_t n = read(uffd_.get(), &msg, sizeof msg);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw SystemError("read(userfaultfd)", errno);
    }
    if (n != sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT) continue;
    const uint64_t address = msg.arg.pagefault.address;
    const uint64_t base = reinterpret_cast<uint64_t>(base_);
    if (address < base || address >= base + bytes_) continue;
    return (address - base) / kPage;
  }
}

void UserfaultWriteProtect::stop() {
  if (stopped_) return;
  writeprotect(uffd_.get(), reinterpret_cast<uint64_t>(base_), bytes_, 0);
  uint64_t one = 1;
  if (write(stop_event_.get(), &one, sizeof one) < 0) throw SystemError("write(eventfd)", errno);
  stopped_ = true;
}

UserfaultCost UserfaultWriteProtect::measure() {
  constexpr uint64_t kPages = 64;
  void* mapping = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw SystemError("mmap (userfaultfd probe)", errno);
  auto* pages = static_cast<uint8_t*>(mapping);
  for (uint64_t i = 0; i < kPages; i++) pages[i * kPage] = 1;
  UserfaultCost cost;
  try {
    UserfaultWriteProtect wp(pages, kPages * kPage);
    core::Bitmap all(kPages);
    all.set_all();
    wp.protect(all);
    std::atomic<uint64_t> writer_ns{0};
    std::thread writer([&] {
      uint64_t total = 0;
      for (uint64_t i = 0; i < kPages; i++) {
        const uint64_t start = core::now_ns();
        reinterpret_cast<volatile uint8_t*>(pages)[i * kPage + 8] = 2;
        total += core::now_ns() - start;
      }
      writer_ns = total;
    });
    uint64_t handler_total = 0;
    for (uint64_t served = 0; served < kPages;) {
      std::optional<uint64_t> fault = wp.next_fault();
      if (!fault) break;
      const uint64_t start = core::now_ns();
      wp.unprotect_range(*fault, 1);
      handler_total += core::now_ns() - start;
      served++;
    }
    writer.join();
    cost.total_ns = double(writer_ns.load()) / kPages;
    cost.handler_ns = double(handler_total) / kPages;
  } catch (...) {
    munmap(mapping, kPages * kPage);
    throw;
  }
  munmap(mapping, kPages * kPage);
  return cost;
}

}  // namespace uckpt::kvm
