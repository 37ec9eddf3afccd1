// The Machine's lifecycle, memory, dirty tracking, vCPU state and exits.
// Longer than most files: each of these is a handful of short methods over
// the same lock and state machine (which states allow which operation, and
// how a run ends), and they read best beside the rules they share.
#include "machine.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "image/elf_image.h"
#include "system_error.h"
#include "uckpt_guest_abi.h"

namespace uckpt::kvm {
namespace {

constexpr uint64_t kMinMemoryMiB = 16;
constexpr uint64_t kMaxMemoryMiB = UCKPT_MAX_MEMORY >> 20;
constexpr unsigned kMaxVcpus = 64;
constexpr std::chrono::milliseconds kPauseTimeout{2000};

const char* kExceptionNames[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
                                   "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
                                   "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};

}  // namespace

bool is_terminal(VmState s) { return s == VmState::Finished || s == VmState::Crashed || s == VmState::Failed; }

const char* to_string(VmState state) {
  switch (state) {
    case VmState::Created: return "created";
    case VmState::Loaded: return "loaded";
    case VmState::Running: return "running";
    case VmState::Paused: return "paused";
    case VmState::Finished: return "finished";
    case VmState::Crashed: return "crashed";
    case VmState::Failed: return "failed";
    case VmState::Stopped: return "stopped";
    case VmState::Destroyed: return "destroyed";
  }
  return "unknown";
}

Machine::Machine(uint64_t memory_mib, unsigned vcpus, DirtyTracking tracking, EventSink sink)
    : sink_(std::move(sink)), tracking_(tracking) {
  if (memory_mib < kMinMemoryMiB || memory_mib > kMaxMemoryMiB) {
    throw UsageError("create: memoryMiB must be from 16 to 16384, got " + std::to_string(memory_mib));
  }
  system_ = std::make_unique<System>();
  unsigned max_vcpus = std::min<unsigned>(kMaxVcpus, static_cast<unsigned>(system_->capabilities().max_vcpus));
  if (vcpus < 1 || vcpus > max_vcpus) {
    throw UsageError("create: vcpus must be from 1 to " + std::to_string(max_vcpus) + ", got " +
                     std::to_string(vcpus));
  }
  int fd = ioctl(system_->fd(), KVM_CREATE_VM, 0);
  if (fd < 0) throw SystemError("KVM_CREATE_VM", errno);
  vm_fd_ = Fd(fd);

  const Capabilities& caps = system_->capabilities();
  if (tracking == DirtyTracking::Ring) {
    // Rings must exist before any vCPU does.
    if (!caps.dirty_ring_bytes) throw UsageError("create: this kernel's KVM has no dirty ring (KVM_CAP_DIRTY_LOG_RING)");
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_DIRTY_LOG_RING;
    cap.args[0] = caps.dirty_ring_bytes;
    check(ioctl(vm_fd_.get(), KVM_ENABLE_CAP, &cap), "KVM_ENABLE_CAP(DIRTY_LOG_RING)");
  } else if (caps.manual_dirty_log_protect & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) {
    // Manual protection lets the checkpoint engine harvest the dirty log and
    // choose which pages to re-protect (KVM_CLEAR_DIRTY_LOG); it must be on
    // before the memory slot exists.
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
    cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
    check(ioctl(vm_fd_.get(), KVM_ENABLE_CAP, &cap), "KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2)");
    manual_protect_ = true;
  }

  memory_ = std::make_unique<GuestMemory>(memory_mib << 20);
  vmm_dirty_ = core::Bitmap(memory_->size() / 4096);
  ring_dirty_ = core::Bitmap(memory_->size() / 4096);
  dirty_log_ = core::Bitmap(memory_->size() / 4096);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.flags = KVM_MEM_LOG_DIRTY_PAGES;
  region.guest_phys_addr = 0;
  region.memory_size = memory_->size();
  region.userspace_addr = reinterpret_cast<uint64_t>(memory_->base());
  check(ioctl(vm_fd_.get(), KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");

  for (unsigned i = 0; i < vcpus; i++) {
    vcpus_.push_back(std::make_unique<Vcpu>(vm_fd_.get(), i, caps.vcpu_mmap_bytes));
    if (tracking == DirtyTracking::Ring) rings_.push_back(std::make_unique<DirtyRing>(vcpus_.back()->fd(), caps.dirty_ring_bytes));
  }
  saved_msrs_ = saved_msr_indices(system_->msr_indices());
}

Machine::~Machine() { destroy(); }

void Machine::require(std::initializer_list<VmState> allowed, const char* operation) const {
  for (VmState s : allowed) {
    if (s == state_) return;
  }
  std::string list;
  for (VmState s : allowed) list += std::string(list.empty() ? "" : " or ") + to_string(s);
  throw UsageError(std::string(operation) + ": the VM is " + to_string(state_) + ", it must be " + list);
}

ImageInfo Machine::load_image(const uint8_t* elf, size_t size, const BootParams& params) {
  std::lock_guard<std::mutex> lock(mu_);
  require({VmState::Created}, "loadImage");
  image::ElfImage image = image::parse_elf_image(elf, size);
  uint8_t* ram = memory_->base();
  image::load_elf_image(image, elf, ram, memory_->size());
  write_boot_tables(ram, memory_->size(), image.entry);

  auto* mb = reinterpret_cast<uckpt_mailbox*>(ram + UCKPT_MAILBOX_GPA);
  std::memset(mb, 0, sizeof *mb);
  mb->magic = UCKPT_MAILBOX_MAGIC;
  mb->workload = params.workload;
  mb->seed = params.seed;
  mb->size = params.size;
  mb->param = params.param;
  mb->repeat = params.repeat;
  mb->memory_bytes = memory_->size();

  for (auto& vcpu : vcpus_) setup_boot_vcpu(vcpu->fd(), vcpu->index(), *system_, image.entry);
  state_ = VmState::Loaded;

  ImageInfo info{image.image_end, image.pvh_entry.has_value(), UINT64_MAX, 0,
                 image.entry.user_stack_top - UCKPT_USER_STACK_BYTES, image.entry.user_stack_top};
  for (const auto& s : image.segments) {
    if (!s.executable) continue;
    info.code_start = std::min(info.code_start, s.gpa);
    info.code_end = std::max(info.code_end, s.gpa + s.memory_bytes);
  }
  if (info.code_end == 0) info.code_start = 0;
  return info;
}

void Machine::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    require({VmState::Loaded}, "start");
    state_ = VmState::Running;
  }
  for (auto& vcpu : vcpus_) {
    vcpu->start([this](Vcpu& v, kvm_run& run) { return on_exit(v, run); },
                [this](Vcpu& v, int error) { on_run_failure(v, error); });
  }
  sink_({Event::Kind::State, VmState::Running, {}, {}});
}

std::string Machine::revive_refusal() const {
  std::lock_guard<std::mutex> lock(mu_);
  switch (state_) {
    case VmState::Crashed:
    case VmState::Failed:
      return "";
    case VmState::Finished:
      return "the workload finished (" + exit_.message + "): a clean end is not revived";
    case VmState::Stopped:
      return "the VM was stopped: a stopped VM is not revived";
    default:
      return std::string("the VM is ") + to_string(state_) + ": only a crashed or failed run can be revived";
  }
}

void Machine::revive() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != VmState::Crashed && state_ != VmState::Failed) {
      throw UsageError(std::string("revive: the VM is ") + to_string(state_) + ", it must be crashed or failed");
    }
    revived_from_ = exit_;
    exit_ = {};
    run_++;
    state_ = VmState::Running;
  }
  {
    // Suspended by whoever restored the guest: the threads wait for the
    // last unsuspend like every other vCPU would.
    std::lock_guard<std::mutex> lock(suspend_mu_);
    for (auto& vcpu : vcpus_) vcpu->restart(suspend_count_ > 0);
  }
  sink_({Event::Kind::State, VmState::Running, {}, {}});
}

ExitInfo Machine::revived_from() const {
  std::lock_guard<std::mutex> lock(mu_);
  return revived_from_;
}

unsigned Machine::run() const {
  std::lock_guard<std::mutex> lock(mu_);
  return run_;
}

bool Machine::join_ended_run() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!is_terminal(state_) && state_ != VmState::Stopped) return false;
  }
  join_vcpus();
  drain_console();
  return true;
}

void Machine::suspend(const char* operation) {
  std::lock_guard<std::mutex> lock(suspend_mu_);
  if (suspend_count_++ > 0) return;
  for (auto& vcpu : vcpus_) vcpu->request_pause();
  for (auto& vcpu : vcpus_) {
    if (!vcpu->wait_paused(kPauseTimeout)) {
      suspend_count_--;
      for (auto& v : vcpus_) v->resume();
      throw UsageError(std::string(operation) + ": vCPU " + std::to_string(vcpu->index()) +
                       " did not leave KVM_RUN within " + std::to_string(kPauseTimeout.count()) + " ms");
    }
  }
}

void Machine::unsuspend() {
  std::lock_guard<std::mutex> lock(suspend_mu_);
  if (suspend_count_ == 0 || --suspend_count_ > 0) return;
  for (auto& vcpu : vcpus_) vcpu->resume();
}

void Machine::pause() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    require({VmState::Running}, "pause");
  }
  // Not under mu_: a vCPU thread may need it to report an exit before it parks.
  suspend("pause");
  bool paused = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == VmState::Running) state_ = VmState::Paused, paused = true;
  }
  if (paused) sink_({Event::Kind::State, VmState::Paused, {}, {}});
}

void Machine::resume() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    require({VmState::Paused}, "resume");
    state_ = VmState::Running;
  }
  unsuspend();
  sink_({Event::Kind::State, VmState::Running, {}, {}});
}

void Machine::join_vcpus() {
  for (auto& vcpu : vcpus_) vcpu->stop();
}

void Machine::stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    require({VmState::Loaded, VmState::Running, VmState::Paused, VmState::Finished, VmState::Crashed,
             VmState::Failed, VmState::Stopped},
            "stop");
    if (!is_terminal(state_) && state_ != VmState::Stopped) {
      state_ = VmState::Stopped;
      exit_ = {"stopped", "stopped by the VMM", 0, 0, run_};
      changed = true;
    }
  }
  join_vcpus();
  drain_console();
  if (changed) sink_({Event::Kind::State, VmState::Stopped, exit_info(), {}});
}

void Machine::destroy() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == VmState::Destroyed) return;
    state_ = VmState::Destroyed;
  }
  join_vcpus();
  vcpus_.clear();
  vm_fd_.reset();
  memory_.reset();
  system_.reset();
}

void Machine::read_memory(uint64_t gpa, uint8_t* out, uint64_t length) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == VmState::Destroyed) throw UsageError("readMemory: the VM is destroyed");
  std::memcpy(out, memory_->at(gpa, length, "readMemory"), length);
}

void Machine::write_memory(uint64_t gpa, const uint8_t* data, uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == VmState::Destroyed) throw UsageError("writeMemory: the VM is destroyed");
  std::memcpy(memory_->at(gpa, length, "writeMemory"), data, length);
  if (length == 0) return;
  // The VMM's own writes are dirty pages too, or a rollback would miss them.
  std::lock_guard<std::mutex> dirty_lock(vmm_dirty_mu_);
  for (uint64_t pfn = gpa / 4096; pfn <= (gpa + length - 1) / 4096; pfn++) vmm_dirty_.set(pfn);
}

void Machine::collect_rings() {
  for (auto& ring : rings_) ring->collect(ring_dirty_);
  check(ioctl(vm_fd_.get(), KVM_RESET_DIRTY_RINGS, 0), "KVM_RESET_DIRTY_RINGS");
}

void Machine::harvest_dirty(core::Bitmap& dirty) {
  if (tracking_ == DirtyTracking::Ring) {
    std::lock_guard<std::mutex> lock(rings_mu_);
    collect_rings();  // the reset re-protects them: rearm has nothing left to do
    dirty |= ring_dirty_;
    ring_dirty_.clear();
  } else {
    kvm_dirty_log request{};
    request.slot = 0;
    request.dirty_bitmap = dirty_log_.words();
    check(ioctl(vm_fd_.get(), KVM_GET_DIRTY_LOG, &request), "KVM_GET_DIRTY_LOG");
    dirty |= dirty_log_;
  }
  std::lock_guard<std::mutex> lock(vmm_dirty_mu_);
  dirty |= vmm_dirty_;
  vmm_dirty_.clear();
}

void Machine::rearm_dirty(const core::Bitmap& pages) {
  // Without manual protection KVM_GET_DIRTY_LOG, and with rings their reset,
  // re-protected every harvested page already.
  if (!manual_protect_) return;
  // One clear per stretch of bitmap words with pages in them, bridging up to
  // kBridgedWords empty words: a call costs about 1 us on this nested host,
  // an empty word in its range next to nothing. Without bridging, scattered
  // writes (a page per word) took a call per page: 700 pages over 768 MiB
  // re-armed in 0.86 ms instead of 0.45.
  constexpr size_t kBridgedWords = 64;  // 4,096 pages
  const uint64_t* words = pages.words();
  const size_t count = pages.word_count();
  for (size_t first = 0; first < count;) {
    if (!words[first]) {
      first++;
      continue;
    }
    size_t end = first + 1;  // one past the last word with pages in this stretch
    for (size_t next = end; next < count && next - end < kBridgedWords; next++) {
      if (words[next]) end = next + 1;
    }
    kvm_clear_dirty_log request{};
    request.slot = 0;
    request.first_page = first * 64;
    request.num_pages = static_cast<uint32_t>(std::min<uint64_t>((end - first) * 64, pages.size() - first * 64));
    request.dirty_bitmap = const_cast<uint64_t*>(words + first);
    check(ioctl(vm_fd_.get(), KVM_CLEAR_DIRTY_LOG, &request), "KVM_CLEAR_DIRTY_LOG");
    first = end;
  }
}

uint64_t Machine::tsc_khz() const {
  const int khz = ioctl(vcpus_.at(0)->fd(), KVM_GET_TSC_KHZ, 0);
  check(khz, "KVM_GET_TSC_KHZ");
  return static_cast<uint64_t>(khz);
}

uint64_t Machine::vcpu_cpu_ns() const {
  uint64_t total = 0;
  for (const auto& vcpu : vcpus_) total += vcpu->cpu_ns();
  return total;
}

// Guest RAM never touched is still unbacked anonymous memory: zeros.
void Machine::populated_pages(core::Bitmap& out) const {
  std::vector<unsigned char> resident(memory_->size() / 4096);
  check(mincore(memory_->base(), memory_->size(), resident.data()), "mincore guest RAM");
  for (uint64_t pfn = 0; pfn < resident.size(); pfn++) {
    if (resident[pfn] & 1) out.set(pfn);
  }
}

std::vector<VcpuState> Machine::capture_vcpus() const {
  const auto& caps = system_->capabilities();
  std::vector<VcpuState> states;
  for (const auto& vcpu : vcpus_) states.push_back(read_vcpu_state(vcpu->fd(), caps.xsave_bytes, caps.xcrs, saved_msrs_));
  return states;
}

void Machine::restore_vcpus(const std::vector<VcpuState>& states) {
  for (size_t i = 0; i < vcpus_.size() && i < states.size(); i++) write_vcpu_state(vcpus_[i]->fd(), states[i]);
}

VcpuState Machine::vcpu_state(unsigned index) const {
  std::lock_guard<std::mutex> lock(mu_);
  require({VmState::Loaded, VmState::Paused, VmState::Finished, VmState::Crashed, VmState::Failed,
           VmState::Stopped},
          "getVcpuState");
  if (index >= vcpus_.size()) throw UsageError("getVcpuState: no vCPU " + std::to_string(index));
  const auto& caps = system_->capabilities();
  return read_vcpu_state(vcpus_[index]->fd(), caps.xsave_bytes, caps.xcrs, saved_msrs_);
}

void Machine::update_vcpu_state(unsigned index, const std::function<void(VcpuState&)>& patch) {
  std::lock_guard<std::mutex> lock(mu_);
  require({VmState::Loaded, VmState::Paused}, "setVcpuState");
  if (index >= vcpus_.size()) throw UsageError("setVcpuState: no vCPU " + std::to_string(index));
  const auto& caps = system_->capabilities();
  VcpuState state = read_vcpu_state(vcpus_[index]->fd(), caps.xsave_bytes, caps.xcrs, saved_msrs_);
  patch(state);
  if (!state.xsave.empty() && state.xsave.size() != caps.xsave_bytes) {
    throw UsageError("setVcpuState: xsave must be " + std::to_string(caps.xsave_bytes) + " bytes, got " +
                     std::to_string(state.xsave.size()));
  }
  write_vcpu_state(vcpus_[index]->fd(), state);
}

MailboxView Machine::mailbox() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == VmState::Destroyed) throw UsageError("mailbox: the VM is destroyed");
  }
  return read_mailbox();
}

MailboxView Machine::read_mailbox() const {
  return uckpt::read_mailbox(reinterpret_cast<const volatile uckpt_mailbox*>(memory_->base() + UCKPT_MAILBOX_GPA));
}

VmState Machine::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

ExitInfo Machine::exit_info() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exit_;
}

ExitInfo Machine::exit_from_mailbox(unsigned vcpu) const {
  MailboxView mb = read_mailbox();
  switch (mb.status) {
    case UCKPT_STATUS_DONE:
      return {"done", "the workload finished", vcpu, mb.result};
    case UCKPT_STATUS_FAILED:
      return {"guest-error", "the guest detected an error: " + mb.error, vcpu, 0};
    case UCKPT_STATUS_BAD_PARAMS:
      return {"bad-params", "the guest refused its parameters: " + mb.error, vcpu, 0};
    case UCKPT_STATUS_EXCEPTION: {
      const char* name = mb.exc_vector < 32 ? kExceptionNames[mb.exc_vector] : "?";
      std::string message = std::string("guest exception ") + name + " (vector " + std::to_string(mb.exc_vector) +
                            ", error code " + hex(mb.exc_error) + ") at RIP " + hex(mb.exc_rip);
      if (mb.exc_vector == 14) message += ", CR2 " + hex(mb.exc_cr2);
      return {"exception", message, vcpu, 0};
    }
    default:
      return {"halt", "the guest halted without reporting a result", vcpu, 0};
  }
}

bool Machine::on_exit(Vcpu& vcpu, kvm_run& run) {
  const unsigned index = vcpu.index();
  auto rip = [&vcpu] {
    kvm_regs regs{};
    return ioctl(vcpu.fd(), KVM_GET_REGS, &regs) == 0 ? hex(regs.rip) : std::string("unknown");
  };
  switch (run.exit_reason) {
    case KVM_EXIT_IO: {
      bool out = run.io.direction == KVM_EXIT_IO_OUT;
      if (out && run.io.port == UCKPT_PORT_CONSOLE) {
        drain_console();
        return true;
      }
      if (out && run.io.port == UCKPT_PORT_PROBE && probe_request_) {
        probe_request_();
        return true;
      }
      if (out && run.io.port == UCKPT_PORT_DOORBELL) {
        ExitInfo info = exit_from_mailbox(index);
        end_run(info.reason == "done" ? VmState::Finished : VmState::Crashed, info);
        return false;
      }
      end_run(VmState::Crashed, {"unexpected-io",
                                 std::string("guest ") + (out ? "wrote" : "read") + " I/O port " +
                                     hex(run.io.port) + " (" + std::to_string(run.io.size) +
                                     " bytes), which this VMM does not emulate, at RIP " + rip(),
                                 index, 0});
      return false;
    }
    case KVM_EXIT_DIRTY_RING_FULL: {
      // Keep what the rings hold for the next harvest, and make room.
      std::lock_guard<std::mutex> lock(rings_mu_);
      collect_rings();
      return true;
    }
    case KVM_EXIT_HLT: {
      if (index != 0) return false;  // a secondary vCPU parked in its idle loop
      ExitInfo info = exit_from_mailbox(index);
      end_run(info.reason == "done" ? VmState::Finished : VmState::Crashed, info);
      return false;
    }
    case KVM_EXIT_MMIO:
      end_run(VmState::Crashed, {"unexpected-mmio",
                                 std::string("guest ") + (run.mmio.is_write ? "wrote " : "read ") +
                                     std::to_string(run.mmio.len) + " bytes at guest-physical " +
                                     hex(run.mmio.phys_addr) + ", where there is no RAM, at RIP " + rip(),
                                 index, 0});
      return false;
    case KVM_EXIT_SHUTDOWN:
      end_run(VmState::Crashed, {"shutdown", "the guest triple-faulted (KVM_EXIT_SHUTDOWN) at RIP " + rip(), index, 0});
      return false;
    case KVM_EXIT_INTERNAL_ERROR:
      end_run(VmState::Failed, {"internal-error",
                                "KVM internal error, suberror " + std::to_string(run.internal.suberror) + " at RIP " +
                                    rip(),
                                index, 0});
      return false;
    case KVM_EXIT_FAIL_ENTRY:
      end_run(VmState::Failed, {"internal-error",
                                "KVM could not enter the guest, hardware reason " +
                                    hex(run.fail_entry.hardware_entry_failure_reason),
                                index, 0});
      return false;
    default:
      end_run(VmState::Failed,
              {"internal-error", "unexpected KVM exit reason " + std::to_string(run.exit_reason), index, 0});
      return false;
  }
}

void Machine::on_run_failure(Vcpu& vcpu, int error) {
  end_run(VmState::Failed, {"internal-error", SystemError("KVM_RUN", error).what(), vcpu.index(), 0});
}

void Machine::end_run(VmState state, ExitInfo info) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != VmState::Running && state_ != VmState::Paused) return;
    info.run = run_;
    state_ = state;
    exit_ = info;
  }
  for (auto& vcpu : vcpus_) vcpu->halt();
  drain_console();
  sink_({Event::Kind::State, state, std::move(info), {}});
}

void Machine::drain_console() {
  std::lock_guard<std::mutex> lock(console_mu_);
  if (!memory_) return;
  const volatile auto* mb = reinterpret_cast<const volatile uckpt_mailbox*>(memory_->base() + UCKPT_MAILBOX_GPA);
  uint64_t head = mb->console_head;
  if (head < console_read_) console_read_ = head;  // the guest went back in time (a rollback)
  if (head - console_read_ > UCKPT_CONSOLE_BYTES) {
    sink_({Event::Kind::Console, {}, {}, "[console: " + std::to_string(head - console_read_ - UCKPT_CONSOLE_BYTES) +
                                             " bytes lost]"});
    console_read_ = head - UCKPT_CONSOLE_BYTES;
  }
  for (; console_read_ < head; console_read_++) {
    char c = mb->console[console_read_ % UCKPT_CONSOLE_BYTES];
    if (c == '\n') {
      sink_({Event::Kind::Console, {}, {}, std::move(console_partial_)});
      console_partial_.clear();
    } else if (console_partial_.size() < 4096) {
      console_partial_.push_back(c);
    }
  }
}

}  // namespace uckpt::kvm
