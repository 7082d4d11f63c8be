// What the engine tells gRPC's threads of the policy in force (Engine::published_policy), and the
// SetPolicy diff those threads make from it (DiffFrom): published at start and after each input
// that changes it, with its YAML made; a diff made from it is the one the reply carries, and one
// made from a policy replaced meanwhile is made again. A real engine on its thread, in memory.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_replace.h"
#include "acd/v1/acd.pb.h"
#include "daemon/engine.h"
#include "daemon/policy_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/policy_text.h"
#include "tests/daemon/core_fixture.h"
#include "tests/daemon/on_engine.h"

namespace acd::daemon::testing {
namespace {

using ::testing::HasSubstr;

// The center's policy under another name.
std::string Renamed(const std::string& name) {
  return absl::StrReplaceAll(kCenterPolicy, {{"name: core-test-center", "name: " + name}});
}

class EnginePolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(engine_.Start().ok()); }
  void TearDown() override { engine_.Stop(); }

  // A SIGHUP's reload of `yaml`, as acdd's signal loop hands it over.
  void Reload(const std::string& yaml) {
    const auto compiled = routing::CompilePolicyText(yaml, "/etc/acd/policy.yaml");
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    OnEngine(engine_, [&] { engine_.ReloadPolicyText(yaml, "/etc/acd/policy.yaml", compiled); });
  }

  // SetPolicy of the center's policy renamed `name`, as the admin service makes it: read,
  // compiled and diffed on this thread (Prepare), applied on the engine's (SetPolicy).
  static acd::v1::SetPolicyRequest Request(const std::string& name) {
    acd::v1::SetPolicyRequest request;
    request.set_yaml(Renamed(name));
    return request;
  }
  PolicyRequestPrepared Prepare(const acd::v1::SetPolicyRequest& request) {
    absl::StatusOr<PolicyRequestPrepared> prepared = PreparePolicyRequest(request);
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    if (!prepared.ok()) return {};
    DiffFrom(engine_.published_policy(), *prepared);
    return *std::move(prepared);
  }
  acd::v1::SetPolicyResponse SetPolicy(const acd::v1::SetPolicyRequest& request,
                                       const PolicyRequestPrepared& prepared) {
    return OnEngine(engine_, [&] {
      acd::v1::SetPolicyResponse response;
      EXPECT_TRUE(engine_.SetPolicy(request, prepared, &response).ok());
      return response;
    });
  }

  FakeClock clock_{kStart};
  Engine engine_{PolicyFromYaml(kCenterPolicy), "test policy", EngineOptions{}, &clock_};
};

TEST_F(EnginePolicyTest, ThePolicyInForceIsPublishedAtStartAndAfterAReloadWithItsYamlMade) {
  std::shared_ptr<const routing::CompiledPolicy> started = engine_.published_policy();
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->source.name(), "core-test-center");
  EXPECT_THAT(started->yaml(), HasSubstr("name: core-test-center"));

  Reload(Renamed("core-test-reloaded"));
  std::shared_ptr<const routing::CompiledPolicy> reloaded = engine_.published_policy();
  ASSERT_NE(reloaded, nullptr);
  EXPECT_EQ(reloaded->source.name(), "core-test-reloaded");
  const acd::v1::PolicyInfo running = OnEngine(engine_, [&] {
    acd::v1::PolicyInfo info;
    EXPECT_TRUE(engine_.GetPolicy(&info).ok());
    return info;
  });
  EXPECT_EQ(running.yaml(), reloaded->yaml());
}

TEST_F(EnginePolicyTest, ASetPolicyAnswersTheDiffMadeOffTheEngineFromThePublishedPolicy) {
  const acd::v1::SetPolicyRequest request = Request("core-test-v2");
  PolicyRequestPrepared prepared = Prepare(request);
  EXPECT_THAT(prepared.diff, HasSubstr("-name: core-test-center"));
  EXPECT_THAT(prepared.diff, HasSubstr("+name: core-test-v2"));
  prepared.diff = "the diff gRPC's thread made";  // so that the answer shows which one it is

  const acd::v1::SetPolicyResponse response = SetPolicy(request, prepared);
  EXPECT_TRUE(response.applied());
  EXPECT_EQ(response.diff(), "the diff gRPC's thread made");
  EXPECT_EQ(engine_.published_policy()->source.name(), "core-test-v2");
}

TEST_F(EnginePolicyTest, ADiffMadeBeforeAReloadIsMadeAgainFromThePolicyTheReloadLeft) {
  const acd::v1::SetPolicyRequest request = Request("core-test-v2");
  const PolicyRequestPrepared prepared = Prepare(request);
  Reload(Renamed("core-test-between"));  // lands before the SetPolicy reaches the engine

  const acd::v1::SetPolicyResponse response = SetPolicy(request, prepared);
  EXPECT_TRUE(response.applied());
  EXPECT_THAT(response.diff(), HasSubstr("-name: core-test-between"));
  EXPECT_THAT(response.diff(), HasSubstr("+name: core-test-v2"));
}

}  // namespace
}  // namespace acd::daemon::testing
