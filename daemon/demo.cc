// In-process demo traffic; see demo.h.
#include "daemon/demo.h"

#include <future>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "daemon/core.h"

namespace acd::daemon {
namespace {

constexpr char kSwitch[] = "demo";
constexpr int kAgentsPerQueue = 4;
constexpr double kMeanTalkSeconds = 25;
constexpr double kLoad = 0.9;           // of the agents' capacity, so lines form and clear
constexpr double kMeanPatienceSeconds = 120;
constexpr double kHoldShare = 0.15;
constexpr double kCallbackAcceptShare = 0.5;
constexpr double kCallbackReachedShare = 0.8;

}  // namespace

Demo::Demo(Engine* engine, uint64_t seed)
    : engine_(engine),
      random_(seed),
      // Call ids differ from those of an earlier run, whose records a data dir may keep.
      run_(absl::StrFormat("%06x", std::random_device{}() & 0xffffff)) {}

void Demo::Start() {
  engine_->Post([this] {
    engine_->AttachLocalSwitch(kSwitch, [this](const acd::v1::Command& c) { OnCommand(c); });
    EndCallsOfAnEarlierRun();
    LogInAgents();
    for (size_t q = 0; q < queues_.size(); ++q) NextArrival(q);
  });
}

Demo::~Demo() { Stop(); }

void Demo::Stop() {
  auto stopped = std::make_shared<std::promise<void>>();
  std::future<void> done = stopped->get_future();
  engine_->Post([this, stopped] {
    stopped_ = true;
    for (asio::steady_timer* timer : timers_) timer->cancel();
    stopped->set_value();
  });
  // Bounded: an engine that has already stopped runs nothing more, and then no timer is left.
  done.wait_for(std::chrono::seconds(5));
}

void Demo::EndCallsOfAnEarlierRun() {
  acd::v1::ListCallsRequest request;
  request.set_switch_id(kSwitch);
  request.set_page_size(Core::kMaxCallsPage);
  std::vector<acd::v1::CallInfo> left;
  do {
    acd::v1::ListCallsResponse page;
    if (!engine_->ListCalls(request, &page).ok()) return;
    for (acd::v1::CallInfo& call : *page.mutable_calls()) left.push_back(std::move(call));
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (left.empty()) return;
  for (const acd::v1::CallInfo& call : left) {
    const bool talking = call.state() == acd::v1::CALL_STATE_CONNECTED;
    Event(call.call_id(), talking ? call.agent_id() : "", [talking](acd::v1::CallEvent* e) {
      if (talking) {
        e->mutable_call_ended();
      } else {
        e->mutable_caller_abandoned();
      }
    });
  }
  std::fprintf(stderr, "acdd: demo: ended the %zu calls an earlier run of the demo left\n",
               left.size());
}

void Demo::LogInAgents() {
  acd::v1::PolicyInfo policy;
  engine_->GetPolicy(&policy);
  for (const acd::v1::Queue& queue : policy.policy().queues()) {
    const acd::v1::Channel channel =
        queue.channel() == acd::v1::CHANNEL_UNSPECIFIED ? acd::v1::CHANNEL_VOICE : queue.channel();
    uint32_t capacity = 1;
    for (int a = 0; a < kAgentsPerQueue; ++a) {
      acd::v1::LoginRequest login;
      login.set_agent_id(absl::StrCat("demo-", queue.name(), "-", a + 1));
      for (const auto& skill : queue.skills()) {
        acd::v1::AgentSkill* s = login.add_skills();
        s->set_skill(skill.skill());
        s->set_proficiency(5);
      }
      for (const std::string& language : policy.policy().languages()) {
        login.add_languages(language);
      }
      if (channel != acd::v1::CHANNEL_VOICE) {
        acd::v1::ChannelCapacity* c = login.add_capacity();
        c->set_channel(channel);
        c->set_max(channel == acd::v1::CHANNEL_CHAT ? 2 : 1);
        capacity = c->max();
      }
      login.add_queues(queue.name());
      login.set_ready(true);
      acd::v1::AgentInfo info;
      grpc::Status s = engine_->Login(login, &info);
      if (!s.ok()) {
        std::fprintf(stderr, "acdd: demo: agent %s cannot log in: %s\n", login.agent_id().c_str(),
                     s.error_message().c_str());
      }
    }
    queues_.push_back(
        {queue.name(), kLoad * kAgentsPerQueue * capacity / kMeanTalkSeconds});
  }
}

void Demo::NextArrival(size_t queue) {
  After(Exponential(1.0 / queues_[queue].arrivals_per_second), [this, queue] {
    Arrive(queue);
    NextArrival(queue);
  });
}

void Demo::Arrive(size_t queue) {
  acd::v1::EnqueueCallRequest request;
  request.set_switch_id(kSwitch);
  const std::string call_id = absl::StrCat("demo-call-", run_, "-", ++next_call_);
  request.set_call_id(call_id);
  request.set_queue(queues_[queue].name);
  (*request.mutable_attributes())["source"] = "acdd --demo";
  acd::v1::EnqueueCallResponse response;
  if (!engine_->EnqueueCall(request, &response).ok()) return;
  // A caller still in line when their patience runs out hangs up.
  After(Exponential(kMeanPatienceSeconds), [this, call_id] {
    const acd::v1::CallState state = StateOf(call_id);
    if (state == acd::v1::CALL_STATE_WAITING || state == acd::v1::CALL_STATE_OFFERED) {
      acd::v1::CallInfo info;
      acd::v1::GetCallRequest get;
      get.set_call_id(call_id);
      engine_->GetCall(get, &info);
      if (!info.callback()) Event(call_id, "", [](acd::v1::CallEvent* e) { e->mutable_caller_abandoned(); });
    }
  });
}

void Demo::OnCommand(const acd::v1::Command& command) {
  if (command.has_offer_call()) {
    TakeOffer(command.offer_call().call_id(), command.offer_call().agent_id(), command.sequence(),
              false);
  } else if (command.has_start_callback()) {
    TakeOffer(command.start_callback().call_id(), command.start_callback().agent_id(),
              command.sequence(), true);
  } else if (command.has_play_prompt() &&
             command.play_prompt().kind() == acd::v1::PlayPrompt::KIND_CALLBACK_OFFER &&
             Uniform() < kCallbackAcceptShare) {
    const std::string call_id = command.play_prompt().call_id();
    After(std::chrono::seconds(3), [this, call_id] {
      if (StateOf(call_id) == acd::v1::CALL_STATE_WAITING) {
        Event(call_id, "", [](acd::v1::CallEvent* e) { e->mutable_callback_accepted(); });
      }
    });
  }
}

void Demo::TakeOffer(const std::string& call_id, const std::string& agent_id, uint64_t sequence,
                     bool callback) {
  const auto ring = std::chrono::milliseconds(1000 + static_cast<int>(Uniform() * 2000));
  After(ring, [this, call_id, agent_id, sequence, callback] {
    grpc::Status accepted = Event(call_id, agent_id, [&](acd::v1::CallEvent* e) {
      e->set_offer_sequence(sequence);
      e->mutable_offer_accepted();
    });
    if (!accepted.ok()) return;  // the caller hung up or the offer was withdrawn meanwhile
    if (callback && Uniform() > kCallbackReachedShare) {
      After(std::chrono::seconds(5), [this, call_id, agent_id] {
        Event(call_id, agent_id, [](acd::v1::CallEvent* e) {
          e->mutable_callback_not_reached()->set_reason("no_answer");
        });
      });
      return;
    }
    Talk(call_id, agent_id);
  });
}

void Demo::Talk(const std::string& call_id, const std::string& agent_id) {
  const std::chrono::milliseconds talk =
      std::max(std::chrono::milliseconds(5000), Exponential(kMeanTalkSeconds));
  if (Uniform() < kHoldShare) {
    After(talk / 3, [this, call_id, agent_id] {
      Event(call_id, agent_id, [](acd::v1::CallEvent* e) {
        e->mutable_hold_started()->set_caller_consented(true);
        e->mutable_hold_started()->set_reason("checking_account");
        e->mutable_hold_started()->set_expected_seconds(20);
      });
    });
    After(talk / 3 + std::chrono::milliseconds(10000 + static_cast<int>(Uniform() * 25000)),
          [this, call_id, agent_id] {
            Event(call_id, agent_id, [](acd::v1::CallEvent* e) { e->mutable_hold_ended(); });
          });
    After(talk + std::chrono::seconds(35), [this, call_id, agent_id] {
      Event(call_id, agent_id, [](acd::v1::CallEvent* e) { e->mutable_call_ended(); });
    });
    return;
  }
  After(talk, [this, call_id, agent_id] {
    Event(call_id, agent_id, [](acd::v1::CallEvent* e) { e->mutable_call_ended(); });
  });
}

grpc::Status Demo::Event(const std::string& call_id, const std::string& agent_id,
                         const std::function<void(acd::v1::CallEvent*)>& set) {
  acd::v1::CallEvent event;
  event.set_switch_id(kSwitch);
  event.set_call_id(call_id);
  event.set_agent_id(agent_id);
  set(&event);
  acd::v1::CallEventResponse response;
  return engine_->ReportCallEvent(event, &response);
}

acd::v1::CallState Demo::StateOf(const std::string& call_id) {
  acd::v1::GetCallRequest request;
  request.set_call_id(call_id);
  acd::v1::CallInfo info;
  if (!engine_->GetCall(request, &info).ok()) return acd::v1::CALL_STATE_UNSPECIFIED;
  return info.state();
}

void Demo::After(std::chrono::milliseconds delay, std::function<void()> what) {
  if (stopped_ || engine_->stopping()) return;
  auto timer = std::make_shared<asio::steady_timer>(*engine_->io(), delay);
  timers_.insert(timer.get());
  timer->async_wait([this, timer, what = std::move(what)](const asio::error_code& error) {
    timers_.erase(timer.get());
    if (error || stopped_ || engine_->draining() || engine_->stopping()) return;
    what();
  });
}

std::chrono::milliseconds Demo::Exponential(double mean_seconds) {
  const double seconds = std::exponential_distribution<double>(1.0 / mean_seconds)(random_);
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace acd::daemon
