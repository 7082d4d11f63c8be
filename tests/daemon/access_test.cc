// The tokens file, the role × method matrix, bindings, HTTP credentials and the secure-by-default
// rule for listen addresses.
#include "daemon/access/access.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "daemon/access/tokens.h"
#include "daemon/access/transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace acd::daemon {
namespace {

using ::testing::HasSubstr;

std::string Line(const std::string& name, const std::string& role, const std::string& binding,
                 const std::string& token) {
  absl::StatusOr<std::string> line = TokenLine(name, role, binding, token);
  EXPECT_TRUE(line.ok()) << line.status();
  return line.ok() ? *line : "";
}

// A tokens file in a temp dir, rewritten at will, removed at the end. Its name is this process's:
// CTest runs each test in a process of its own, two at a time, in the same temp dir.
class TokensFile {
 public:
  TokensFile() : path_(absl::StrCat(testing::TempDir(), "/tokens-", getpid(), "-", ++count_)) {}
  ~TokensFile() { std::remove(path_.c_str()); }
  TokensFile(const TokensFile&) = delete;
  TokensFile& operator=(const TokensFile&) = delete;
  void Write(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }
  const std::string& path() const { return path_; }

 private:
  static inline int count_ = 0;
  std::string path_;
};

constexpr char kSwitchToken[] = "switch-secret";
constexpr char kAgentToken[] = "agent-secret";
constexpr char kSupervisorToken[] = "supervisor-secret";
constexpr char kAdminToken[] = "admin-secret";
constexpr char kMonitorToken[] = "monitor-secret";

std::string CenterTokens() {
  return absl::StrCat(
      "# the center's tokens\n\n", Line("pbx", "switch", "switch_id=pbx-1,pbx-2", kSwitchToken),
      "\n", Line("desk-7", "agent", "agent_id=a7", kAgentToken), "\n",
      Line("anna", "supervisor", "", kSupervisorToken), "\n", Line("ops", "admin", "", kAdminToken),
      "\n   ", Line("prometheus", "monitor", "", kMonitorToken), "   \n");
}

std::string Bearer(const std::string& token) { return "Bearer " + token; }

class AccessTest : public testing::Test {
 protected:
  void SetUp() override {
    file_.Write(CenterTokens());
    ASSERT_TRUE(access_.Load(file_.path()).ok());
  }
  absl::StatusCode Code(const std::string& token, const std::string& method) {
    return access_.Admit(Bearer(token), method).status().code();
  }

  TokensFile file_;
  Access access_;
};

TEST(TokenTableTest, StoresOnlyHashesAndFindsTheirOwners) {
  const std::string text = CenterTokens();
  EXPECT_THAT(text, Not(HasSubstr(kAdminToken)));
  EXPECT_THAT(text, HasSubstr(TokenHash(kAdminToken)));
  absl::StatusOr<TokenTable> table = TokenTable::Parse(text, "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 5u);
  const Principal* pbx = table->Find(kSwitchToken);
  ASSERT_NE(pbx, nullptr);
  EXPECT_EQ(pbx->name, "pbx");
  EXPECT_EQ(pbx->role, Role::kSwitch);
  EXPECT_THAT(pbx->switch_ids, testing::ElementsAre("pbx-1", "pbx-2"));
  EXPECT_EQ(table->Find("desk-7"), nullptr) << "a name is not a token";
  EXPECT_EQ(table->Find(""), nullptr);
  EXPECT_EQ(table->FindByName("desk-7")->agent_id, "a7");
}

TEST(TokenTableTest, TheHashIsSha256InLowercaseHex) {
  EXPECT_EQ(TokenHash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenTableTest, NewTokensAreLongRandomAndDistinct) {
  absl::StatusOr<std::string> one = NewToken();
  absl::StatusOr<std::string> two = NewToken();
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NE(*one, *two);
  EXPECT_EQ(one->size(), 4u + 43u);
  EXPECT_EQ(one->substr(0, 4), "acd_");
}

TEST(TokenTableTest, EveryBadLineIsRefusedNamingFileAndLine) {
  const std::string hash = TokenHash("t");
  const struct {
    std::string line, says;
  } cases[] = {
      {"ops admin", "NAME ROLE sha256:HEX"},
      {"ops root " + hash, "role 'root' is not one of"},
      {"ops admin t", "sha256: and 64 hex digits"},
      {"ops admin sha256:abcd", "sha256: and 64 hex digits"},
      {"o/ps admin " + hash, "only letters, digits"},
      {"desk agent " + hash, "add agent_id=ID"},
      {"desk agent " + hash + " agent_id=a,b", "exactly one agent_id"},
      {"desk agent " + hash + " switch_id=x", "binds a switch token"},
      {"pbx switch " + hash + " agent_id=x", "binds an agent token"},
      {"pbx switch " + hash + " switch_id=a,,b", "switch_id is empty"},
      {"pbx switch " + hash + " queue=x", "neither switch_id=A,B nor agent_id=X"},
      {"ops admin " + hash + " switch_id=x extra", "NAME ROLE sha256:HEX"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<TokenTable> table = TokenTable::Parse("# comment\n" + c.line + "\n", "/etc/t");
    ASSERT_FALSE(table.ok()) << c.line;
    EXPECT_THAT(table.status().message(), HasSubstr("/etc/t:2: ")) << c.line;
    EXPECT_THAT(table.status().message(), HasSubstr(c.says)) << c.line;
  }
}

TEST(TokenTableTest, ANameOrATokenAppearsOnce) {
  const std::string twice_named =
      absl::StrCat(Line("ops", "admin", "", "a"), "\n", Line("ops", "admin", "", "b"));
  EXPECT_THAT(TokenTable::Parse(twice_named, "f").status().message(),
              HasSubstr("f:2: the name 'ops' is used twice"));
  const std::string twice_hashed =
      absl::StrCat(Line("ops", "admin", "", "a"), "\n", Line("ops2", "admin", "", "a"));
  EXPECT_THAT(TokenTable::Parse(twice_hashed, "f").status().message(),
              HasSubstr("f:2: this token's hash is on an earlier line too"));
}

TEST(TokenTableTest, TokenLineRefusesWhatTheFileWould) {
  EXPECT_FALSE(TokenLine("desk", "agent", "", "t").ok());
  EXPECT_FALSE(TokenLine("x", "boss", "", "t").ok());
  EXPECT_FALSE(TokenLine("two words", "admin", "", "t").ok());
}

TEST_F(AccessTest, WithoutATokensFileEveryoneIsAdmin) {
  Access open;
  EXPECT_TRUE(open.open());
  absl::StatusOr<Caller> caller = open.Admit("", "/acd.v1.AdminService/SetPolicy");
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->role(), Role::kAdmin);
  EXPECT_EQ(caller->Describe(), "no token (--auth_tokens not set)");
  EXPECT_FALSE(caller->ForcesAgents()) << "a desk and a supervisor look alike: no audit lines";
  EXPECT_EQ(open.AdmitHttp(""), 200);
}

TEST_F(AccessTest, NoTokenOrAnUnknownOneIsUnauthenticated) {
  EXPECT_EQ(access_.Admit("", "/acd.v1.AdminService/ListQueues").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code("guess", "/acd.v1.AdminService/ListQueues"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(access_.Admit(kAdminToken, "/acd.v1.AdminService/ListQueues").status().code(),
            absl::StatusCode::kUnauthenticated)
      << "the scheme is required";
  EXPECT_TRUE(access_.Admit("bearer  " + std::string(kAdminToken), "/x/Y").ok())
      << "the scheme is case-insensitive";
}

TEST_F(AccessTest, EachRoleCallsItsMethodsOnly) {
  const std::string all[] = {"/acd.v1.SwitchService/EnqueueCall",
                             "/acd.v1.SwitchService/ReportCallEvent",
                             "/acd.v1.SwitchService/StreamCommands",
                             "/acd.v1.SwitchService/ListCalls",
                             "/acd.v1.AgentService/Login",
                             "/acd.v1.AgentService/SetAgentState",
                             "/acd.v1.AgentService/Logout",
                             "/acd.v1.AdminService/ListQueues",
                             "/acd.v1.AdminService/ListAgents",
                             "/acd.v1.AdminService/GetCall",
                             "/acd.v1.AdminService/GetPolicy",
                             "/acd.v1.AdminService/SetPolicy",
                             "/acd.v1.AdminService/WatchQueues",
                             "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"};
  const std::map<std::string, std::set<std::string>> allowed = {
      {kSwitchToken,
       {"/acd.v1.SwitchService/EnqueueCall", "/acd.v1.SwitchService/ReportCallEvent",
        "/acd.v1.SwitchService/StreamCommands", "/acd.v1.SwitchService/ListCalls",
        "/acd.v1.AdminService/GetCall"}},
      {kAgentToken,
       {"/acd.v1.AgentService/Login", "/acd.v1.AgentService/SetAgentState",
        "/acd.v1.AgentService/Logout", "/acd.v1.AdminService/GetCall"}},
      {kSupervisorToken,
       {"/acd.v1.AgentService/SetAgentState", "/acd.v1.AgentService/Logout",
        "/acd.v1.AdminService/ListQueues", "/acd.v1.AdminService/ListAgents",
        "/acd.v1.AdminService/GetCall", "/acd.v1.AdminService/GetPolicy",
        "/acd.v1.AdminService/WatchQueues"}},
      {kAdminToken, std::set<std::string>(std::begin(all), std::end(all))},
      {kMonitorToken, {}},
  };
  for (const auto& [token, methods] : allowed) {
    for (const std::string& method : all) {
      absl::StatusOr<Caller> caller = access_.Admit(Bearer(token), method);
      if (methods.contains(method)) {
        EXPECT_TRUE(caller.ok()) << token << " " << method << ": " << caller.status();
      } else {
        EXPECT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied)
            << token << " " << method;
        EXPECT_THAT(caller.status().message(), HasSubstr(method));
      }
    }
  }
  EXPECT_THAT(
      access_.Admit(Bearer(kAgentToken), "/acd.v1.AdminService/SetPolicy").status().message(),
      HasSubstr("token 'desk-7' (agent) may not call /acd.v1.AdminService/SetPolicy: role "
                "'agent' does not include it"));
  EXPECT_TRUE(IsOpenMethod("/grpc.health.v1.Health/Check"));
  EXPECT_FALSE(IsOpenMethod("/acd.v1.AdminService/ListQueues"));
}

TEST_F(AccessTest, BoundTokensActOnlyForTheirIds) {
  const char* enqueue = "/acd.v1.SwitchService/EnqueueCall";
  absl::StatusOr<Caller> pbx = access_.Admit(Bearer(kSwitchToken), enqueue);
  ASSERT_TRUE(pbx.ok());
  EXPECT_TRUE(pbx->MayActForSwitch("pbx-2", enqueue).ok());
  absl::Status other = pbx->MayActForSwitch("pbx-9", enqueue);
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(other.message(), HasSubstr("token 'pbx' (switch) may not call "
                                         "/acd.v1.SwitchService/EnqueueCall: it is bound to "
                                         "switch_id 'pbx-1', 'pbx-2', not 'pbx-9'"));

  const char* login = "/acd.v1.AgentService/Login";
  absl::StatusOr<Caller> desk = access_.Admit(Bearer(kAgentToken), login);
  ASSERT_TRUE(desk.ok());
  EXPECT_TRUE(desk->MayActForAgent("a7", login).ok());
  EXPECT_EQ(desk->MayActForAgent("a8", login).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(desk->SeesCallerDetails());
  EXPECT_FALSE(desk->ForcesAgents());

  absl::StatusOr<Caller> anna =
      access_.Admit(Bearer(kSupervisorToken), "/acd.v1.AgentService/Logout");
  ASSERT_TRUE(anna.ok());
  EXPECT_TRUE(anna->MayActForAgent("a8", login).ok()) << "a supervisor forces any agent";
  EXPECT_TRUE(anna->ForcesAgents());
  EXPECT_TRUE(anna->SeesCallerDetails());
  EXPECT_EQ(anna->Describe(), "token 'anna' (supervisor)");
}

TEST_F(AccessTest, AReloadDropsARemovedTokenAndABadFileKeepsTheTokensInForce) {
  file_.Write(Line("ops", "admin", "", kAdminToken));
  ASSERT_TRUE(access_.Reload().ok());
  EXPECT_EQ(access_.tokens(), 1u);
  EXPECT_EQ(Code(kSupervisorToken, "/acd.v1.AdminService/ListQueues"),
            absl::StatusCode::kUnauthenticated);
  file_.Write("ops admin nonsense\n");
  EXPECT_FALSE(access_.Reload().ok());
  EXPECT_EQ(Code(kAdminToken, "/acd.v1.AdminService/ListQueues"), absl::StatusCode::kOk);
  EXPECT_THAT(Access().Load("/nonexistent/tokens").message(),
              HasSubstr("cannot read the tokens file /nonexistent/tokens"));
}

TEST_F(AccessTest, AStreamsCallerStandsUntilItsTokenIsRemovedOrChanged) {
  const char* commands = "/acd.v1.SwitchService/StreamCommands";
  absl::StatusOr<Caller> pbx = access_.Admit(Bearer(kSwitchToken), commands);
  absl::StatusOr<Caller> anna =
      access_.Admit(Bearer(kSupervisorToken), "/acd.v1.AdminService/WatchQueues");
  ASSERT_TRUE(pbx.ok() && anna.ok());
  EXPECT_TRUE(access_.StillAdmits(*pbx));
  ASSERT_TRUE(access_.Reload().ok());
  EXPECT_TRUE(access_.StillAdmits(*pbx)) << "the same file read again changes nothing";
  // anna's line is gone; pbx's binding changed.
  file_.Write(absl::StrCat(Line("pbx", "switch", "switch_id=pbx-1", kSwitchToken), "\n",
                           Line("ops", "admin", "", kAdminToken)));
  ASSERT_TRUE(access_.Reload().ok());
  EXPECT_FALSE(access_.StillAdmits(*anna));
  EXPECT_FALSE(access_.StillAdmits(*pbx)) << "bound otherwise now: it must be admitted again";
  EXPECT_TRUE(Access().StillAdmits(Caller::Open()));
}

TEST_F(AccessTest, HttpTakesBearerOrBasicForMonitorSupervisorAndAdmin) {
  EXPECT_EQ(access_.AdmitHttp(Bearer(kMonitorToken)), 200);
  EXPECT_EQ(access_.AdmitHttp(Bearer(kSupervisorToken)), 200);
  EXPECT_EQ(
      access_.AdmitHttp("Basic " + absl::Base64Escape(std::string("prometheus:") + kMonitorToken)),
      200);
  EXPECT_EQ(access_.AdmitHttp("Basic " + absl::Base64Escape(std::string("anna:") + kMonitorToken)),
            401)
      << "the name must be the token's";
  EXPECT_EQ(access_.AdmitHttp("Basic !!"), 401);
  EXPECT_EQ(access_.AdmitHttp(""), 401);
  EXPECT_EQ(access_.AdmitHttp(Bearer("guess")), 401);
  EXPECT_EQ(access_.AdmitHttp(Bearer(kAgentToken)), 403);
  EXPECT_EQ(access_.AdmitHttp(Bearer(kSwitchToken)), 403);
}

TEST(ExposureTest, LoopbackNeedsNothingAnythingElseNeedsTlsAndTokens) {
  EXPECT_TRUE(IsLoopbackListen("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackListen("127.9.0.1:0"));
  EXPECT_TRUE(IsLoopbackListen("localhost:1"));
  EXPECT_TRUE(IsLoopbackListen("[::1]:1"));
  EXPECT_FALSE(IsLoopbackListen("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackListen("[::]:50051"));
  EXPECT_FALSE(IsLoopbackListen(":50051"));
  EXPECT_FALSE(IsLoopbackListen("10.0.0.5:50051"));
  EXPECT_FALSE(IsLoopbackListen("1270.0.0.1:50051"));

  Exposure exposure{.grpc_listen = "127.0.0.1:1", .http_listen = "127.0.0.1:2"};
  EXPECT_TRUE(CheckExposure(exposure).ok());
  exposure.grpc_listen = "0.0.0.0:50051";
  absl::Status refused = CheckExposure(exposure);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(),
              HasSubstr("--grpc_listen 0.0.0.0:50051 is not a loopback address: "
                        "add --tls_cert FILE --tls_key FILE and --auth_tokens FILE"));
  exposure.grpc_tls = exposure.tokens = true;
  EXPECT_TRUE(CheckExposure(exposure).ok());
  exposure.http_listen = "0.0.0.0:9464";
  EXPECT_THAT(CheckExposure(exposure).message(), HasSubstr("--http_listen 0.0.0.0:9464 is not a "
                                                           "loopback address: add --http_tls"));
  exposure.http_tls = true;
  EXPECT_TRUE(CheckExposure(exposure).ok());
  Exposure insecure{.grpc_listen = "0.0.0.0:1", .http_listen = "0.0.0.0:2", .allow_insecure = true};
  EXPECT_TRUE(CheckExposure(insecure).ok());
}

TEST(TlsFilesTest, NoFilesIsPlainAndHalfAPairIsAMistake) {
  EXPECT_TRUE(CheckTlsFiles({}).ok());
  EXPECT_THAT(CheckTlsFiles({.certificate = "c.pem"}).message(),
              HasSubstr("--tls_cert and --tls_key go together"));
  EXPECT_THAT(CheckTlsFiles({.client_ca = "ca.pem"}).message(),
              HasSubstr("--tls_client_ca needs --tls_cert and --tls_key"));
  EXPECT_THAT(
      CheckTlsFiles({.certificate = "/nonexistent/c.pem", .key = "/nonexistent/k.pem"}).message(),
      HasSubstr("--tls_cert /nonexistent/c.pem: not a PEM certificate chain"));
}

}  // namespace
}  // namespace acd::daemon
