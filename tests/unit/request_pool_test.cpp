// RequestPool: requests are reused once warm, tracked while in use, and detached from a Ring
// that goes away. No UCX operation is posted: the pool's bookkeeping needs none.
#include "ucx/request.hpp"

#include <ringpipe/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ringpipe::ucx {
namespace {

std::vector<UcxRequest*> in_use(RequestPool& pool) {
  std::vector<UcxRequest*> requests;
  pool.for_each_in_use([&](UcxRequest& request) { requests.push_back(&request); });
  std::sort(requests.begin(), requests.end());
  return requests;
}

std::vector<UcxRequest*> sorted(std::vector<UcxRequest*> requests) {
  std::sort(requests.begin(), requests.end());
  return requests;
}

TEST(RequestPool, AcquiredRequestsAreDistinctFreshAndInUse) {
  RequestPool pool;
  UcxRequest* first = pool.acquire();
  UcxRequest* second = pool.acquire();
  EXPECT_NE(first, second);
  for (UcxRequest* request : {first, second}) {
    EXPECT_FALSE(request->done());
    EXPECT_EQ(request->bytes(), 0u);
    EXPECT_EQ(request->pipe(), nullptr);
  }
  EXPECT_EQ(in_use(pool), sorted({first, second}));
  first->release();
  second->release();
  EXPECT_TRUE(in_use(pool).empty());
}

TEST(RequestPool, ReleasedRequestsAreReusedInsteadOfAllocatingNewOnes) {
  RequestPool pool;
  constexpr int kWarm = 8;
  std::vector<UcxRequest*> warm;
  for (int i = 0; i < kWarm; ++i) warm.push_back(pool.acquire());
  for (UcxRequest* request : warm) request->release();
  // Once warm, every round trip draws on the same objects: no allocation per operation.
  const std::set<UcxRequest*> known(warm.begin(), warm.end());
  for (int round = 0; round < 100; ++round) {
    std::vector<UcxRequest*> again;
    for (int i = 0; i < kWarm; ++i) again.push_back(pool.acquire());
    for (UcxRequest* request : again) {
      EXPECT_EQ(known.count(request), 1u) << "round " << round << " allocated a new request";
    }
    for (UcxRequest* request : again) request->release();
    if (HasFailure()) break;
  }
}

TEST(RequestPool, ForEachInUseVisitsExactlyTheRequestsNotYetReleased) {
  RequestPool pool;
  std::vector<UcxRequest*> requests;
  for (int i = 0; i < 5; ++i) requests.push_back(pool.acquire());
  // The newest, the oldest and one in the middle: every position of the in-use list.
  for (const std::size_t gone : {std::size_t{4}, std::size_t{0}, std::size_t{2}}) {
    requests[gone]->release();
    requests[gone] = nullptr;
    std::vector<UcxRequest*> expected;
    for (UcxRequest* request : requests) {
      if (request != nullptr) expected.push_back(request);
    }
    EXPECT_EQ(in_use(pool), sorted(expected)) << "after releasing request " << gone;
  }
  for (UcxRequest* request : requests) {
    if (request != nullptr) request->release();
  }
  EXPECT_TRUE(in_use(pool).empty());
}

TEST(RequestPool, ForgottenRequestLeavesTheInUseListAndIsNotReused) {
  RequestPool pool;
  UcxRequest* kept = pool.acquire();
  std::unique_ptr<UcxRequest> forgotten(pool.acquire());
  pool.forget(forgotten.get());
  EXPECT_EQ(in_use(pool), std::vector<UcxRequest*>{kept});
  UcxRequest* next = pool.acquire();
  EXPECT_NE(next, forgotten.get());
  next->release();
  kept->release();
}

TEST(RequestPool, DetachAllEmptiesTheInUseListAndFailsEachRequestWithClosed) {
  RequestPool pool;
  UcxRequest* first = pool.acquire();
  UcxRequest* second = pool.acquire();
  pool.detach_all();
  EXPECT_TRUE(in_use(pool).empty());
  for (UcxRequest* request : {first, second}) {
    EXPECT_EQ(request->pipe(), nullptr);
    try {
      request->test();
      ADD_FAILURE() << "a detached request reported success";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), Errc::Closed) << error.what();
      EXPECT_NE(std::string(error.what()).find("the ring was closed"), std::string::npos)
          << error.what();
    }
  }
  // Detached requests belong to their Requests now, not to the pool.
  UcxRequest* fresh = pool.acquire();
  EXPECT_NE(fresh, first);
  EXPECT_NE(fresh, second);
  EXPECT_EQ(in_use(pool), std::vector<UcxRequest*>{fresh});
  fresh->release();
  // Released, each frees itself instead of returning to the pool (AddressSanitizer checks both).
  first->release();
  second->release();
}

TEST(RequestPool, DetachedRequestsOutliveTheirPool) {
  UcxRequest* detached = nullptr;
  {
    RequestPool pool;
    detached = pool.acquire();
    pool.detach_all();
  }
  const std::optional<Error> outcome = detached->outcome();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->code(), Errc::Closed) << outcome->what();
  detached->release();
}

}  // namespace
}  // namespace ringpipe::ucx
