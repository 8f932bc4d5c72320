// ringpipe: symbol visibility. The library is built with hidden visibility; only what is marked
// RINGPIPE_API is part of its ABI.
#pragma once

#if defined(RINGPIPE_BUILDING_LIBRARY)
#define RINGPIPE_API __attribute__((visibility("default")))
#else
#define RINGPIPE_API
#endif
