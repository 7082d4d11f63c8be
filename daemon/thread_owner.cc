#include "daemon/thread_owner.h"

#include <cstdio>
#include <cstdlib>

namespace acd::daemon {

void ThreadOwner::Crash(const char* method) {
  std::fprintf(stderr,
               "acdd: %s called off its owning thread; engine-thread state must be reached through "
               "Engine::Post\n",
               method);
  std::abort();
}

}  // namespace acd::daemon
