/* ui.c - the page at /ui/ (ui/index.html, ui/app.js, ui/app.css),
 * embedded in profd at build time so that it needs no file, script, font
 * or network access beyond profd itself. */
#include <string.h>

#include "http/embed.h"
#include "http/http.h"

EMBED(profd_ui_index_html, PROFD_UI_DIR "/index.html");
EMBED(profd_ui_app_js, PROFD_UI_DIR "/app.js");
EMBED(profd_ui_app_css, PROFD_UI_DIR "/app.css");

extern const unsigned char profd_ui_index_html[], profd_ui_index_html_end[];
extern const unsigned char profd_ui_app_js[], profd_ui_app_js_end[];
extern const unsigned char profd_ui_app_css[], profd_ui_app_css_end[];

static const struct {
	const char *name, *ctype;
	const unsigned char *b, *e;
} assets[] = {
	{ "", "text/html; charset=utf-8", profd_ui_index_html,
	  profd_ui_index_html_end },
	{ "index.html", "text/html; charset=utf-8", profd_ui_index_html,
	  profd_ui_index_html_end },
	{ "app.js", "text/javascript; charset=utf-8", profd_ui_app_js,
	  profd_ui_app_js_end },
	{ "app.css", "text/css; charset=utf-8", profd_ui_app_css,
	  profd_ui_app_css_end },
};

bool
http_ui_asset(const char *name, const void **data, size_t *len,
	      const char **ctype)
{
	size_t i;

	for (i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		if (strcmp(name, assets[i].name) != 0)
			continue;
		*data = assets[i].b;
		*len = (size_t)(assets[i].e - assets[i].b);
		*ctype = assets[i].ctype;
		return true;
	}
	return false;
}
