/* textbuf.h - the text buffer moved to common/textbuf.h (http/ prints
 * into it too); this name stays for the daemon/ files that include it. */
#ifndef PROFD_TEXTBUF_H
#define PROFD_TEXTBUF_H

#include "common/textbuf.h"

#endif /* PROFD_TEXTBUF_H */
