// ringpipe: the library's version at run time.
#include <ringpipe/version.hpp>

#include "ringpipe_config.hpp"

namespace ringpipe {

const char* version() noexcept { return RINGPIPE_VERSION; }

}  // namespace ringpipe
