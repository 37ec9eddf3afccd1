// A KVM virtual machine running a uckpt workload image: guest RAM, vCPUs,
// the lifecycle state machine, and the reading of guest exits and of the
// mailbox into VM states with reasons.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "uckpt/core/bitmap.h"
#include "uckpt_mailbox_view.h"

#include "dirty_ring.h"
#include "guest_memory.h"
#include "system.h"
#include "vcpu.h"
#include "vcpu_state.h"
#include "x86_boot.h"

namespace uckpt::kvm {

// How guest writes are tracked: KVM's dirty bitmap with manual
// re-protection (which can leave chosen pages unprotected), or per-vCPU
// dirty rings (which re-protect every page they report).
enum class DirtyTracking { Bitmap, Ring };

enum class VmState { Created, Loaded, Running, Paused, Finished, Crashed, Failed, Stopped, Destroyed };
const char* to_string(VmState state);
bool is_terminal(VmState state);  // how a run ends: finished, crashed or failed

struct ExitInfo {
  std::string reason;   // done, guest-error, bad-params, exception, shutdown, halt,
                        // unexpected-io, unexpected-mmio, internal-error
  std::string message;  // for people
  unsigned vcpu = 0;
  uint64_t result = 0;  // the checksum, when reason == "done"
  unsigned run = 0;     // which run ended: 0, then one more after each revive
};

struct BootParams {
  uint64_t workload = 0;
  uint64_t seed = 1;
  uint64_t size = 0;
  uint64_t param = 0;
  uint64_t repeat = 1;
};

using uckpt::MailboxView;

// Where the loaded image put things, as guest-physical [start, end) ranges.
struct ImageInfo {
  uint64_t image_end;
  bool pvh_entry;
  uint64_t code_start, code_end;    // the executable segments (code, read-only data)
  uint64_t stack_start, stack_end;  // the workload's stack
};

class Machine {
 public:
  // Events leave on vCPU threads; the sink must not block.
  struct Event {
    enum class Kind { State, Console } kind;
    VmState state = VmState::Created;
    ExitInfo exit;
    std::string text;
  };
  using EventSink = std::function<void(Event)>;

  Machine(uint64_t memory_mib, unsigned vcpus, DirtyTracking tracking, EventSink sink);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  ImageInfo load_image(const uint8_t* elf, size_t size, const BootParams& params);
  void start();
  void pause();
  void resume();
  void stop();
  void destroy();

  // Reviving a run that ended in a crash or failure, after a rollback
  // restored memory and vCPUs (the checkpoint engine calls these paused).
  // Why the run must not be revived (it finished or was stopped), or empty.
  std::string revive_refusal() const;
  // The VM runs again from the restored state: state running, a new run
  // number, fresh vCPU threads (parked until the pause ends).
  void revive();
  // How the run that the latest revive brought back had ended.
  ExitInfo revived_from() const;
  // The current run: 0, then one more after each revive.
  unsigned run() const;
  // Joins the parked vCPU threads of a run that has ended; false (and
  // nothing done) when it has not, e.g. because it was revived meanwhile.
  bool join_ended_run();

  void read_memory(uint64_t gpa, uint8_t* out, uint64_t length) const;
  void write_memory(uint64_t gpa, const uint8_t* data, uint64_t length);
  VcpuState vcpu_state(unsigned index) const;
  // Reads the vCPU's state, lets `patch` change it, and writes it back.
  void update_vcpu_state(unsigned index, const std::function<void(VcpuState&)>& patch);
  MailboxView mailbox() const;

  // Counted pauses of every vCPU, shared by the operator (pause/resume) and
  // the checkpoint engine: the vCPUs run again when the last one is undone.
  void suspend(const char* operation);
  void unsuspend();

  // Dirty tracking of guest RAM (paused only). harvest ORs in the pages
  // written since they were last re-armed, by the guest or through
  // write_memory; rearm re-protects exactly the given pages.
  void harvest_dirty(core::Bitmap& dirty);
  void rearm_dirty(const core::Bitmap& pages);
  bool manual_dirty_protect() const { return manual_protect_; }
  DirtyTracking dirty_tracking() const { return tracking_; }
  void populated_pages(core::Bitmap& out) const;
  uint8_t* ram() const { return memory_->base(); }

  std::vector<VcpuState> capture_vcpus() const;
  void restore_vcpus(const std::vector<VcpuState>& states);

  // The fault probe's request (UCKPT_PORT_PROBE), run on the vCPU thread
  // with the vCPU stopped; without a handler the port is unexpected I/O.
  void on_probe_request(std::function<void()> handler) { probe_request_ = std::move(handler); }
  // The guest's TSC frequency.
  uint64_t tsc_khz() const;

  VmState state() const;
  ExitInfo exit_info() const;
  uint64_t memory_bytes() const { return memory_->size(); }
  unsigned vcpu_count() const { return static_cast<unsigned>(vcpus_.size()); }
  // CPU time all vCPUs have run, up to their last pause (exact while suspended).
  uint64_t vcpu_cpu_ns() const;
  const Capabilities& capabilities() const { return system_->capabilities(); }

 private:
  bool on_exit(Vcpu& vcpu, kvm_run& run);
  void on_run_failure(Vcpu& vcpu, int error);
  // Ends the run with a terminal state (first caller wins) and parks every vCPU.
  void end_run(VmState state, ExitInfo info);
  ExitInfo exit_from_mailbox(unsigned vcpu) const;
  MailboxView read_mailbox() const;
  void drain_console();
  void require(std::initializer_list<VmState> allowed, const char* operation) const;
  void join_vcpus();

  // Serializes what starts or ends vCPU threads (stop, destroy, revive,
  // join_ended_run); never taken by a vCPU thread.
  std::mutex lifecycle_mu_;

  std::unique_ptr<System> system_;
  Fd vm_fd_;
  std::unique_ptr<GuestMemory> memory_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<uint32_t> saved_msrs_;
  EventSink sink_;
  std::function<void()> probe_request_;

  DirtyTracking tracking_;
  bool manual_protect_ = false;
  std::mutex rings_mu_;
  std::vector<std::unique_ptr<DirtyRing>> rings_;
  core::Bitmap ring_dirty_;  // collected from the rings, not yet harvested
  void collect_rings();      // rings_mu_ held
  core::Bitmap dirty_log_;   // KVM_GET_DIRTY_LOG's buffer, sized once

  std::mutex suspend_mu_;
  unsigned suspend_count_ = 0;

  std::mutex vmm_dirty_mu_;
  core::Bitmap vmm_dirty_;  // pages write_memory changed since the last harvest

  mutable std::mutex mu_;
  VmState state_ = VmState::Created;
  ExitInfo exit_;
  unsigned run_ = 0;
  ExitInfo revived_from_;

  std::mutex console_mu_;
  uint64_t console_read_ = 0;
  std::string console_partial_;
};

}  // namespace uckpt::kvm
