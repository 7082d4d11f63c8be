// acdctl against the real acdd: the state is driven over gRPC as a switch and agent desktops
// would drive it, then the real acdctl binary runs and its output is read as an operator would.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/acdd_process.h"

namespace acd::testing {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The policy acdd runs in these tests.
std::string CenterPath() {
  return std::string(ACD_SOURCE_DIR) + "/tests/integration/testdata/center.yaml";
}
std::string CenterYaml() { return ReadText(CenterPath()); }

// A file under the test's temporary directory, named per process (ctest runs tests in parallel),
// removed when the test is done with it.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_(absl::StrCat(::testing::TempDir(), "/acdctl_test_", getpid(), "_", name)) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' is not in the text";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

struct Output {
  int exit_code = -1;
  std::string out, err;
};

// Runs the real acdctl with `args` and collects what it prints and how it exits.
Output RunAcdctl(std::vector<std::string> args) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    close(out[0]), close(err[0]), close(out[1]), close(err[1]);
    args.insert(args.begin(), ACDCTL_PATH);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(ACDCTL_PATH, argv.data());
    _exit(127);
  }
  close(out[1]), close(err[1]);
  Output run;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  int open = 2;
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, n);
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  if (open > 0) {
    ADD_FAILURE() << "acdctl did not finish within 30 s";
    kill(pid, SIGKILL);
    for (pollfd& p : fds)
      if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The words of the table row that starts with `first`, or none.
std::vector<std::string> Row(const std::string& table, const std::string& first) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (!words.empty() && words[0] == first) return words;
  }
  return {};
}

// The words of each history line `call` prints, in order.
std::vector<std::vector<std::string>> History(const std::string& call) {
  std::vector<std::vector<std::string>> lines;
  const size_t start = call.find("history:\n");
  if (start == std::string::npos) return lines;
  for (absl::string_view line : absl::StrSplit(call.substr(start), '\n', absl::SkipEmpty())) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() >= 3 && words[0] != "history:" && words[0] != "TIME") lines.push_back(words);
  }
  return lines;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// acdd on the integration center, with gRPC stubs to set the scene and acdctl pointed at it.
class Acdctl : public ::testing::Test {
 protected:
  Acdctl()
      : acdd_({"--policy", CenterPath()}), switch_(acdd_.Switch()), agents_(acdd_.Agents()) {}
  ~Acdctl() override { EXPECT_EQ(acdd_.Stop(SIGTERM), 0); }

  // acdctl pointed at this acdd.
  Output Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", acdd_.grpc_address()});
    return RunAcdctl(std::move(args));
  }

  void Login(const std::string& agent, const std::string& skill, bool ready = true) {
    acd::v1::LoginRequest request;
    request.set_agent_id(agent);
    acd::v1::AgentSkill* s = request.add_skills();
    s->set_skill(skill);
    s->set_proficiency(3);
    request.set_ready(ready);
    acd::v1::AgentInfo info;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status status = agents_->Login(&context, request, &info);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  void NotReady(const std::string& agent, const std::string& reason) {
    acd::v1::SetAgentStateRequest request;
    request.set_agent_id(agent);
    request.mutable_not_ready()->set_reason(reason);
    acd::v1::AgentInfo info;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status status = agents_->SetAgentState(&context, request, &info);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  acd::v1::EnqueueCallResponse Enqueue(const std::string& call, const std::string& queue) {
    acd::v1::EnqueueCallRequest request;
    request.set_switch_id("sw1");
    request.set_call_id(call);
    request.set_queue(queue);
    acd::v1::EnqueueCallResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status status = switch_->EnqueueCall(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  void Accept(const std::string& call, const std::string& agent) {
    acd::v1::CallEvent event;
    event.set_switch_id("sw1");
    event.set_call_id(call);
    event.set_agent_id(agent);
    event.mutable_offer_accepted();
    acd::v1::CallEventResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status status = switch_->ReportCallEvent(&context, event, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  AcddProcess acdd_;
  std::unique_ptr<acd::v1::SwitchService::Stub> switch_;
  std::unique_ptr<acd::v1::AgentService::Stub> agents_;
};

TEST_F(Acdctl, QueuesListsEveryQueueOfThePolicyWithItsWaitingCount) {
  Enqueue("s1", "sales");
  Enqueue("s2", "sales");
  Enqueue("b1", "billing");
  Login("alice", "support");

  const Output run = Ctl({"queues"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_THAT(Row(run.out, "QUEUE"),
              ElementsAre("QUEUE", "CHANNEL", "WAITING", "OLDEST", "EWT", "READY", "RESERVED",
                          "BUSY", "WRAP_UP", "NOT_READY"));
  EXPECT_THAT(Row(run.out, "sales"),
              ElementsAre("sales", "voice", "2", _, _, "0", "0", "0", "0", "0"));
  EXPECT_THAT(Row(run.out, "billing"),
              ElementsAre("billing", "voice", "1", _, _, "0", "0", "0", "0", "0"));
  EXPECT_THAT(Row(run.out, "support"),
              ElementsAre("support", "voice", "0", "-", "0s", "1", "0", "0", "0", "0"))
      << "alice is ready for support: a new caller would not wait";
  EXPECT_THAT(Row(run.out, "tiny"),
              ElementsAre("tiny", "voice", "0", "-", "-", "0", "0", "0", "0", "0"))
      << "nobody staffs tiny and nobody has waited there: no honest estimate";
}

TEST_F(Acdctl, AgentsShowsEachAgentWithItsStateReasonQueuesAndCallsHandled) {
  Login("alice", "sales");
  Login("bob", "billing");
  NotReady("bob", "break");

  const Output all = Ctl({"agents"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(Row(all.out, "AGENT"), ElementsAre("AGENT", "STATE", "QUEUES", "HANDLED"));
  EXPECT_THAT(Row(all.out, "alice"), ElementsAre("alice", "ready", "sales", "0"));
  EXPECT_THAT(Row(all.out, "bob"), ElementsAre("bob", "not_ready", "(break)", "billing", "0"));

  const Output billing = Ctl({"agents", "--queue", "billing"});
  ASSERT_EQ(billing.exit_code, 0) << billing.err;
  EXPECT_THAT(Row(billing.out, "bob"), Not(IsEmpty()));
  EXPECT_THAT(Row(billing.out, "alice"), IsEmpty()) << "alice is not in billing";

  const Output unknown = Ctl({"agents", "--queue", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, StartsWith("acdctl: NOT_FOUND: "));
}

TEST_F(Acdctl, CallShowsWhereTheCallStandsAndItsHistory) {
  Enqueue("waiter", "billing");
  Login("alice", "sales");
  EXPECT_EQ(Enqueue("c1", "sales").disposition(),
            acd::v1::EnqueueCallResponse::DISPOSITION_OFFERED);
  Accept("c1", "alice");

  const Output connected = Ctl({"call", "c1"});
  ASSERT_EQ(connected.exit_code, 0) << connected.err;
  EXPECT_THAT(Row(connected.out, "queue"), ElementsAre("queue", "sales"));
  EXPECT_THAT(Row(connected.out, "state"), ElementsAre("state", "connected"));
  EXPECT_THAT(Row(connected.out, "agent"), ElementsAre("agent", "alice"));
  EXPECT_THAT(Row(connected.out, "switch"), ElementsAre("switch", "sw1"));
  EXPECT_THAT(connected.out, HasSubstr("history:"));
  // Each history line: time of day, seconds since arrival, what happened, detail.
  EXPECT_THAT(Row(connected.out, "TIME"),
              ElementsAre("TIME", "SINCE", "ARRIVAL", "WHAT", "DETAIL"));
  EXPECT_THAT(
      History(connected.out),
      ElementsAre(ElementsAre(MatchesRegex("[0-9:.]{12}"), MatchesRegex(R"(\+[0-9]+\.[0-9]{3}s)"),
                              "enqueued", "sales"),
                  ElementsAre(_, _, "offered", "alice"), ElementsAre(_, _, "connected", "alice")));

  const Output waiting = Ctl({"call", "waiter"});
  ASSERT_EQ(waiting.exit_code, 0) << waiting.err;
  EXPECT_THAT(Row(waiting.out, "state"), ElementsAre("state", "waiting"));
  EXPECT_THAT(Row(waiting.out, "position"), ElementsAre("position", "1"));
  EXPECT_THAT(Row(waiting.out, "agent"), ElementsAre("agent", "-"));
}

TEST_F(Acdctl, AnUnknownCallExitsOneWithNotFound) {
  const Output run = Ctl({"call", "no-such-call"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, StartsWith("acdctl: NOT_FOUND: "));
  EXPECT_THAT(run.err, HasSubstr("no-such-call"));
}

TEST_F(Acdctl, PolicyValidateOfABadFileListsEveryProblemWithItsLineAndExitsOne) {
  // Line 8 of center.yaml is sales' skill list: a misspelt skill and a proficiency out of range.
  const TempFile file("bad.yaml", Replace(CenterYaml(), "{skill: sales, min_proficiency: 1}",
                                          "{skill: sale, min_proficiency: 9}"));
  const std::string& path = file.path();

  const Output run = Ctl({"policy", "validate", path});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr(path + ":8:"));
  EXPECT_EQ(Count(run.out, path + ":8:"), 2u) << run.out;
  EXPECT_THAT(run.out, HasSubstr("queues[0].skills[0].skill: queue 'sales': unknown skill 'sale'"));
  EXPECT_THAT(run.out, HasSubstr("queues[0].skills[0].min_proficiency:"));
  EXPECT_THAT(run.out, HasSubstr("2 problems"));
  EXPECT_THAT(run.out, Not(HasSubstr("valid\n")));

  const Output diff = Ctl({"policy", "diff", path});
  EXPECT_EQ(diff.exit_code, 1);
  EXPECT_THAT(diff.err, HasSubstr(path + ":8:"));
  EXPECT_EQ(diff.out, "");
}

TEST_F(Acdctl, PolicyValidateOfAGoodFileSaysValidAndShowsTheDiff) {
  const TempFile same_file("same.yaml", CenterYaml());
  const std::string& same = same_file.path();
  const Output unchanged = Ctl({"policy", "validate", same});
  ASSERT_EQ(unchanged.exit_code, 0) << unchanged.err;
  EXPECT_EQ(unchanged.out, "valid\nno changes from the running policy\n");

  const TempFile renamed_file("renamed.yaml", Replace(CenterYaml(), "name: integration-center",
                                                      "name: integration-center-v2"));
  const std::string& renamed = renamed_file.path();
  const Output changed = Ctl({"policy", "validate", renamed});
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_THAT(changed.out, StartsWith("valid\n--- running\n+++ new\n"));
  EXPECT_THAT(changed.out,
              HasSubstr("\n-name: integration-center\n+name: integration-center-v2\n"));
}

TEST_F(Acdctl, PolicyApplyPrintsTheDiffAndPolicyShowThenReportsTheNewPolicy) {
  const Output before = Ctl({"policy", "show"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_THAT(before.out, StartsWith("# source: "));
  EXPECT_THAT(before.out, HasSubstr("center.yaml\n# applied: "));
  EXPECT_THAT(before.out, HasSubstr("\nname: integration-center\n"));

  const TempFile file(
      "v2.yaml", Replace(CenterYaml(), "name: integration-center", "name: integration-center-v2"));
  const std::string& path = file.path();
  const Output diff = Ctl({"policy", "diff", path});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_THAT(diff.out, AllOf(StartsWith("--- running\n+++ new\n"),
                              HasSubstr("\n+name: integration-center-v2\n")));

  const Output apply = Ctl({"policy", "apply", path});
  ASSERT_EQ(apply.exit_code, 0) << apply.err;
  EXPECT_THAT(apply.out, AllOf(StartsWith(diff.out), EndsWith("\napplied\n")));

  const Output after = Ctl({"policy", "show"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.out, StartsWith("# source: admin api\n# applied: "));
  EXPECT_THAT(after.out, HasSubstr("\nname: integration-center-v2\n"));
  const Output again = Ctl({"policy", "diff", path});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out, "") << "the file is what runs now";
}

TEST_F(Acdctl, PolicyApplyOfAPolicyThatDropsAQueueInUseIsRefusedWithTheReason) {
  Enqueue("t1", "tiny");
  const std::string yaml = CenterYaml();
  const TempFile file("no_tiny.yaml", yaml.substr(0, yaml.find("  - name: tiny")));
  const std::string& path = file.path();

  // The dry run already knows the live calls would refuse it: validate says so, apply stops.
  const Output validate = Ctl({"policy", "validate", path});
  EXPECT_EQ(validate.exit_code, 1);
  EXPECT_THAT(validate.out, HasSubstr("drops what live calls use: queue 'tiny' (call 't1')"));
  const Output apply = Ctl({"policy", "apply", path});
  EXPECT_EQ(apply.exit_code, 1);
  EXPECT_THAT(apply.err, HasSubstr("drops what live calls use: queue 'tiny' (call 't1')"));
  EXPECT_THAT(apply.err, HasSubstr("nothing applied"));
  EXPECT_THAT(apply.out, Not(HasSubstr("applied")));
  EXPECT_THAT(Ctl({"policy", "show"}).out, HasSubstr("- name: tiny"));
}

TEST_F(Acdctl, PolicyApplyOfABadFileListsTheProblemsAndChangesNothing) {
  const TempFile file("bad.yaml",
                      Replace(CenterYaml(), "offer_timeout_seconds: 1", "offer_timout_seconds: 1"));
  const std::string& path = file.path();
  const Output apply = Ctl({"policy", "apply", path});
  EXPECT_EQ(apply.exit_code, 1);
  EXPECT_THAT(apply.err, HasSubstr(path + ":9:"));
  EXPECT_THAT(apply.err, HasSubstr("nothing applied"));
  EXPECT_THAT(Ctl({"policy", "show"}).out, HasSubstr(std::string(ACD_SOURCE_DIR)));
}

TEST_F(Acdctl, WatchWithCountTwoPrintsTwoTablesAndStops) {
  Enqueue("s1", "sales");
  const Output run = Ctl({"watch", "--count", "2", "--interval", "0.2"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Count(run.out, "QUEUE "), 2u) << run.out;
  EXPECT_EQ(Count(run.out, "\nsales "), 2u) << run.out;
  EXPECT_EQ(Count(run.out, "\ntiny "), 2u) << run.out;
}

TEST(AcdctlCommandLine, AnUnknownCommandExitsTwoWithTheUsage) {
  const Output run = RunAcdctl({"--server", "127.0.0.1:1", "frobnicate"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, StartsWith("acdctl: unknown command 'frobnicate'\n"));
  EXPECT_THAT(run.err, HasSubstr("usage: acdctl"));
  EXPECT_EQ(run.out, "");
}

TEST(AcdctlCommandLine, AMissingArgumentOrMisplacedFlagExitsTwo) {
  EXPECT_EQ(RunAcdctl({}).exit_code, 2);
  const Output call = RunAcdctl({"call"});
  EXPECT_EQ(call.exit_code, 2);
  EXPECT_THAT(call.err, StartsWith("acdctl: call: missing CALL_ID\n"));
  const Output policy = RunAcdctl({"policy", "validate"});
  EXPECT_EQ(policy.exit_code, 2);
  EXPECT_THAT(policy.err, StartsWith("acdctl: policy validate: missing FILE\n"));
  EXPECT_EQ(RunAcdctl({"policy", "frob", "x.yaml"}).exit_code, 2);
  EXPECT_EQ(RunAcdctl({"queues", "--no_such_flag"}).exit_code, 2);
  EXPECT_EQ(RunAcdctl({"watch", "--count", "many"}).exit_code, 2);
  const Output misplaced = RunAcdctl({"queues", "--queue", "sales"});
  EXPECT_EQ(misplaced.exit_code, 2);
  EXPECT_THAT(misplaced.err, StartsWith("acdctl: --queue is for 'agents', not 'queues'\n"));
}

TEST(AcdctlCommandLine, HelpPrintsTheUsageAndExitsZero) {
  const Output run = RunAcdctl({"--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.out, HasSubstr("policy apply FILE"));
}

TEST(AcdctlCommandLine, AServerThatIsNotThereIsReportedAsUnavailable) {
  const Output run = RunAcdctl({"--server", "127.0.0.1:1", "queues"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("acdctl: UNAVAILABLE: "));
}

}  // namespace
}  // namespace acd::testing
