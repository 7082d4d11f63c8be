// SwitchOutboxes keep, for every switch, its command numbering and what acd said that the switch
// has not been shown to receive: commands not written to its stream yet, and the offers still
// outstanding (an offer or a callback's start stays outstanding until answered or withdrawn, and is
// resent after a reconnect because the switch may have lost it). Part of the core's deterministic
// state: numbering never depends on streams or timing. The shell takes each new command with
// TakeNew() and writes it out, then reports it written.
//   outboxes.Send("sw1", std::move(command), now);     // numbered 1, 2, ... per switch
//   for (OutgoingCommand& c : outboxes.TakeNew()) shell.Write(c.switch_id, *c.command);
//   outboxes.Written("sw1", 7);                         // the stream wrote sequence 7
//   std::vector<acd::v1::Command> first = outboxes.Reconnect("sw1");  // for a new stream
#ifndef ACD_DAEMON_SWITCH_OUTBOX_H_
#define ACD_DAEMON_SWITCH_OUTBOX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "acd/v1/acd.pb.h"

namespace acd::daemon {

// A new command for the shell to write: shared with the outbox that keeps it until it is written,
// never changed (a numbered command is what it is; a replay that writes nothing copies nothing).
struct OutgoingCommand {
  std::string switch_id;
  std::shared_ptr<const acd::v1::Command> command;
};

class SwitchOutboxes {
 public:
  // At most `max_unwritten` commands wait per switch; past that the oldest go (and are logged).
  explicit SwitchOutboxes(size_t max_unwritten) : max_unwritten_(max_unwritten) {}
  // A new limit (acdd restarted with other flags), from the next command on.
  void set_max_unwritten(size_t max_unwritten) { max_unwritten_ = max_unwritten; }

  // Numbers `command` for `switch_id`, stamps it with `at` and keeps it until written. An offer or
  // a callback's start also becomes its call's outstanding offer. Returns the sequence.
  uint64_t Send(const std::string& switch_id, acd::v1::Command command, absl::Time at);
  // The offer outstanding for `call_id` at `switch_id`, or nullptr.
  const acd::v1::Command* OutstandingOffer(const std::string& switch_id,
                                           const std::string& call_id) const;
  // The offer for `call_id` is over (answered, withdrawn, or the call left): it is forgotten, and
  // taken back if it has not been written yet.
  void EndOffer(const std::string& switch_id, const std::string& call_id);
  // The shell wrote command `sequence` to `switch_id`'s stream (or handed it to a local switch).
  void Written(const std::string& switch_id, uint64_t sequence);
  // Whether Written(switch_id, sequence) would change anything: the command is unwritten, or it
  // is an outstanding offer not yet marked written. Not after a second report of the same write.
  bool AwaitsWrite(const std::string& switch_id, uint64_t sequence) const;
  // What a new stream of `switch_id` gets first: every command it has not been shown to receive,
  // in sequence order (an outstanding offer the bound dropped among them), then the outstanding
  // offers written to an earlier stream that may have lost them, marked resent. Commands taken by
  // TakeNew() but not written yet are among the first: a stream that took over drops what the
  // old one had queued.
  std::vector<acd::v1::Command> Reconnect(const std::string& switch_id);
  // Commands made since the last call, in order, for the shell to write.
  std::vector<OutgoingCommand> TakeNew();
  // Per switch, how many unwritten commands the bound dropped since the last call.
  std::vector<std::pair<std::string, uint64_t>> TakeDropped();

  size_t unwritten(const std::string& switch_id) const;
  // Every outbox as a snapshot keeps it, switches and offers in order (by id); and one put back.
  // REQUIRES for Save: TakeNew() and TakeDropped() have been called since the last command.
  std::vector<acd::journal::v1::OutboxState> Save() const;
  absl::Status Restore(const acd::journal::v1::OutboxState& outbox);

 private:
  // A command once numbered never changes: one copy, shared by the shell's new commands, the
  // unwritten ones and the outstanding offers.
  using SharedCommand = std::shared_ptr<const acd::v1::Command>;
  struct Outstanding {
    SharedCommand offer;
    bool written = false;
  };
  struct Outbox {
    uint64_t next_sequence = 1;
    // By sequence: written ones and offers taken back leave from anywhere in O(log n), however
    // long the backlog of a switch that is away.
    absl::btree_map<uint64_t, SharedCommand> unwritten;
    absl::flat_hash_map<std::string, Outstanding> offers;  // by call id
  };
  // `command` (just written) is its call's outstanding offer: mark it so.
  static void MarkOfferWritten(Outbox& outbox, const acd::v1::Command& command);

  size_t max_unwritten_;
  absl::flat_hash_map<std::string, Outbox> outboxes_;
  std::vector<OutgoingCommand> new_;
  // Per switch, unwritten commands the bound dropped since TakeDropped (in the order they went).
  std::vector<std::pair<std::string, uint64_t>> dropped_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SWITCH_OUTBOX_H_
