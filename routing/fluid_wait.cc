// The expected-step walk of fluid_wait.h.
//
// Each listed caller ahead is a mass (the probability they still wait, 1 at the start); a line's
// masses all shrink by the same factor as callers hang up, so each line keeps one scale and the
// per-step abandonment costs one multiplication per line, not per caller.
#include "routing/fluid_wait.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "routing/wait_estimator.h"

namespace acd::routing {
namespace {

// Below this a mass is gone: the caller was served or hung up.
constexpr double kGone = 1e-12;
// The estimated caller's chance of still waiting below which the walk ends.
constexpr double kDone = 1e-9;

bool Before(const FluidCaller& a, const FluidCaller& b) {
  return std::tie(b.score, a.arrived_us, a.seq) < std::tie(a.score, b.arrived_us, b.seq);
}

struct LineState {
  size_t head = 0;           // first listed caller with mass left
  double scale = 1;          // true mass = stored x scale
  double inverse_scale = 1;  // 1 / scale, kept to multiply by
  std::vector<double> stored;
  double stored_unlisted = 0;
  double remaining = 0;  // true mass of all callers ahead on the line, listed or not
};

class Walk {
 public:
  Walk(const FluidWait& model, int caller_line) : model_(model) {
    lines_.resize(model.lines.size());
    for (size_t l = 0; l < lines_.size(); ++l) {
      const FluidLine& line = model.lines[l];
      lines_[l].stored.assign(line.ahead.size(), 1.0);
      lines_[l].stored_unlisted = static_cast<double>(std::max<int64_t>(0, line.more_ahead));
      lines_[l].remaining = static_cast<double>(line.ahead.size()) + lines_[l].stored_unlisted;
      any_abandon_ |= line.abandon_rate > 0;
    }
    for (const FluidPool& pool : model.pools) {
      serves_caller_.push_back(std::find(pool.lines.begin(), pool.lines.end(), caller_line) !=
                               pool.lines.end());
    }
    useful_.resize(model.pools.size());
  }

  std::optional<double> Run(const FluidLimits& limits) {
    if (std::find(serves_caller_.begin(), serves_caller_.end(), 1) == serves_caller_.end()) {
      return std::nullopt;
    }
    for (int step = 0; step < limits.max_steps; ++step) {
      if (waiting_ <= kDone) return Mean();
      if (!Step()) return std::nullopt;  // no pool frees anything
    }
    if (waiting_ <= kDone) return Mean();
    return Tail();
  }

 private:
  bool Useful(size_t pool) const {
    if (serves_caller_[pool]) return true;
    for (int l : model_.pools[pool].lines) {
      if (lines_[l].remaining > kGone) return true;
    }
    return false;
  }

  // One expected step; false when no pool frees anything.
  bool Step() {
    double frees = 0, hang_ups = 0;
    for (size_t p = 0; p < model_.pools.size(); ++p) {
      useful_[p] = Useful(p);
      if (useful_[p]) frees += model_.pools[p].frees_per_second;
    }
    if (frees <= 0) return false;
    if (any_abandon_) {
      for (size_t l = 0; l < lines_.size(); ++l) {
        hang_ups += model_.lines[l].abandon_rate * lines_[l].remaining;
      }
    }
    // One event that matters: a free or a hang-up ahead. Given the caller is answered, it comes
    // at rate + the caller's own hang-up rate (their patience outlasted it), and the answers that
    // come after more events weigh less: the caller outlasts each with rate / (rate + own).
    const double rate = frees + hang_ups;
    const double own = model_.caller_abandon_rate;
    elapsed_ += 1 / (rate + own);
    outlasted_ *= rate / (rate + own);
    if (hang_ups > 0) {
      for (size_t l = 0; l < lines_.size(); ++l) {
        const double keep = std::max(0.0, 1 - model_.lines[l].abandon_rate / rate);
        lines_[l].scale *= keep;
        lines_[l].inverse_scale = keep > 0 ? 1 / lines_[l].scale : 0;
        lines_[l].remaining *= keep;
      }
    }
    for (size_t p = 0; p < model_.pools.size(); ++p) {
      if (useful_[p]) Free(p, model_.pools[p].frees_per_second / rate);
    }
    return true;
  }

  // Where the best caller left on line `l` ranks. Callers only counted rank right after the last
  // listed one (first, on a line that lists none: all that is known is that they are ahead).
  const FluidCaller& HeadOf(int l) const {
    static constexpr FluidCaller kFirst{.score = std::numeric_limits<double>::infinity()};
    const std::vector<FluidCaller>& ahead = model_.lines[l].ahead;
    const size_t head = lines_[l].head;
    if (head < ahead.size()) return ahead[head];
    return ahead.empty() ? kFirst : ahead.back();
  }

  // Pool `p` frees `share` of an agent: it takes the best callers ahead on its lines, else the
  // estimated caller.
  void Free(size_t p, double share) {
    while (share > kGone) {
      int best = -1;
      for (int l : model_.pools[p].lines) {
        LineState& line = lines_[l];
        if (line.remaining <= kGone) continue;
        while (line.head < line.stored.size() && line.stored[line.head] * line.scale <= kGone) {
          ++line.head;
        }
        if (line.head == line.stored.size() && line.stored_unlisted * line.scale <= kGone) {
          line.remaining = 0;  // rounding left a trace
          continue;
        }
        if (best < 0 || Before(HeadOf(l), HeadOf(best))) best = l;
      }
      if (best < 0) {
        if (serves_caller_[p]) Answer(std::min(waiting_, share));
        return;
      }
      LineState& line = lines_[best];
      double& stored =
          line.head < line.stored.size() ? line.stored[line.head] : line.stored_unlisted;
      const double taken = std::min(stored * line.scale, share);
      stored -= taken * line.inverse_scale;
      line.remaining = std::max(0.0, line.remaining - taken);
      share -= taken;
    }
  }

  // What is left, in QL-m's closed form: the callers still ahead on the lines of the pools that
  // serve the caller, drained by every pool that works those lines.
  double Tail() {
    absl::InlinedVector<char, 32> reach(lines_.size(), 0);
    for (size_t p = 0; p < model_.pools.size(); ++p) {
      if (!serves_caller_[p]) continue;
      for (int l : model_.pools[p].lines) reach[l] = 1;
    }
    double ahead = 0, hang_ups = 0, frees = 0;
    for (size_t l = 0; l < lines_.size(); ++l) {
      if (!reach[l]) continue;
      ahead += lines_[l].remaining;
      hang_ups += model_.lines[l].abandon_rate * lines_[l].remaining;
    }
    for (size_t p = 0; p < model_.pools.size(); ++p) {
      const auto& lines = model_.pools[p].lines;
      if (std::any_of(lines.begin(), lines.end(), [&](int l) { return reach[l] != 0; })) {
        frees += model_.pools[p].frees_per_second;
      }
    }
    const double theta = ahead > 0 ? hang_ups / ahead : 0;
    elapsed_ +=
        QlmSum(static_cast<int>(std::lround(ahead)), frees + model_.caller_abandon_rate, theta);
    Answer(waiting_);
    return Mean();
  }

  // `mass` of the caller reaches an agent now.
  void Answer(double mass) {
    waiting_ -= mass;
    answered_ += mass * outlasted_;
    answered_seconds_ += mass * outlasted_ * elapsed_;
  }
  // The mean wait of the caller, given they are answered.
  double Mean() const { return answered_ > 0 ? answered_seconds_ / answered_ : elapsed_; }

  const FluidWait& model_;
  absl::InlinedVector<LineState, 16> lines_;
  absl::InlinedVector<char, 32> serves_caller_, useful_;
  bool any_abandon_ = false;
  double waiting_ = 1;    // the chance the estimated caller still waits
  double elapsed_ = 0;    // expected seconds so far, given the caller has not hung up
  double outlasted_ = 1;  // the chance the caller's patience lasted this far
  double answered_ = 0, answered_seconds_ = 0;  // sums of chance and chance x elapsed_
};

}  // namespace

std::optional<double> ExpectedFluidWait(const FluidWait& model, int caller_line,
                                        const FluidLimits& limits) {
  if (caller_line < 0 || static_cast<size_t>(caller_line) >= model.lines.size()) {
    return std::nullopt;
  }
  return Walk(model, caller_line).Run(limits);
}

}  // namespace acd::routing
