// What `acdctl journal …` does with a data dir, offline (acdd need not run; while it does, the
// last record may be one it is still writing): verify it, print its records as JSON lines, or
// count them by kind. Each returns the process exit status (0 fine; 1 a problem, said on stderr).
//   return VerifyJournal("/var/lib/acd", std::cout);
#ifndef ACD_DAEMON_JOURNAL_JOURNAL_TOOL_H_
#define ACD_DAEMON_JOURNAL_JOURNAL_TOOL_H_

#include <cstdint>
#include <ostream>
#include <string>

namespace acd::daemon::journal {

// Reads every record and checks its frame, its sequence, that its payload is an input this release
// knows and that the first one creates the state (or, when retention removed the journal's start,
// that a whole snapshot covers it). Checks every snapshot's frame and checksum. Says what a start
// of acdd would cut and which snapshot it would start from.
int VerifyJournal(const std::string& dir, std::ostream& out);
// One JSON object per record from sequence `from` on: sequence, epoch, time and the input.
int PrintJournal(const std::string& dir, uint64_t from, std::ostream& out);
// Records and bytes by kind of input, the snapshots, segments, the span of time covered.
int JournalStats(const std::string& dir, std::ostream& out);

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_JOURNAL_TOOL_H_
