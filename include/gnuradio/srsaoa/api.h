/*
 * Copyright 2026 gr-srsaoa authors.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_SRSAOA_API_H
#define INCLUDED_SRSAOA_API_H

#include <gnuradio/attributes.h>

#ifdef gnuradio_srsaoa_EXPORTS
#define SRSAOA_API __GR_ATTR_EXPORT
#else
#define SRSAOA_API __GR_ATTR_IMPORT
#endif

#endif /* INCLUDED_SRSAOA_API_H */
