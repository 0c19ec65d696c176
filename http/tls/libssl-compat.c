/* libssl-compat.c - loaded by profd under the name civetweb asks for.
 *
 * Debian 12's civetweb 1.15 speaks the OpenSSL 1.1 API and looks up
 * SSL_get_peer_certificate in "libssl.so" with dlsym; OpenSSL 3 turned it
 * into a macro for SSL_get1_peer_certificate, so the lookup comes back
 * NULL and the first TLS connection calls it (civetweb issue 1334). Built
 * as a shared object whose soname is "libssl.so" and that needs the real
 * libssl.so.3: once profd has loaded it, civetweb's dlopen("libssl.so")
 * returns it, and dlsym finds this function here and every other one in
 * libssl.so.3. Not part of libhttp.a: the Makefile builds it on its own
 * and embeds it in profd (tls_embed.c).
 */
struct ssl_st;
struct x509_st;

struct x509_st *SSL_get1_peer_certificate(const struct ssl_st *s);
struct x509_st *SSL_get_peer_certificate(const struct ssl_st *s);

struct x509_st *
SSL_get_peer_certificate(const struct ssl_st *s)
{
	return SSL_get1_peer_certificate(s);
}
