/* The SPDY/3 header compression dictionary (SPDY draft 3, section
 * 2.6.10.1): 1423 bytes, Adler-32 0xe3c6a7c2, which is the DICTID a peer's
 * first header block names.  Length-prefixed header names, then common
 * values.  tests/unit/test_spdy.c checks length and checksum.  */
#include "spdy_frame.h"

const unsigned char spdy_dictionary[SPDY_DICTIONARY_LEN] =
    "\000\000\000\007options\000\000\000\004head\000\000\000\004post\000\000\000\003put\000\000"
    "\000\006delete\000\000\000\005trace\000\000\000\006accept\000\000\000\016accept-charset"
    "\000\000\000\017accept-encoding\000\000\000\017accept-language\000\000\000\015accept-ra"
    "nges\000\000\000\003age\000\000\000\005allow\000\000\000\015authorization\000\000\000\015"
    "cache-control\000\000\000\012connection\000\000\000\014content-base\000\000\000\020cont"
    "ent-encoding\000\000\000\020content-language\000\000\000\016content-length\000\000\000\020"
    "content-location\000\000\000\013content-md5\000\000\000\015content-range\000\000\000\014"
    "content-type\000\000\000\004date\000\000\000\004etag\000\000\000\006expect\000\000\000\007"
    "expires\000\000\000\004from\000\000\000\004host\000\000\000\010if-match\000\000\000\021"
    "if-modified-since\000\000\000\015if-none-match\000\000\000\010if-range\000\000\000\023i"
    "f-unmodified-since\000\000\000\015last-modified\000\000\000\010location\000\000\000\014"
    "max-forwards\000\000\000\006pragma\000\000\000\022proxy-authenticate\000\000\000\023pro"
    "xy-authorization\000\000\000\005range\000\000\000\007referer\000\000\000\013retry-after"
    "\000\000\000\006server\000\000\000\002te\000\000\000\007trailer\000\000\000\021transfer"
    "-encoding\000\000\000\007upgrade\000\000\000\012user-agent\000\000\000\004vary\000\000\000"
    "\003via\000\000\000\007warning\000\000\000\020www-authenticate\000\000\000\006method\000"
    "\000\000\003get\000\000\000\006status\000\000\000\006200 OK\000\000\000\007version\000\000"
    "\000\010HTTP/1.1\000\000\000\003url\000\000\000\006public\000\000\000\012set-cookie\000"
    "\000\000\012keep-alive\000\000\000\006origin1001012012022052063003023033043053063074024"
    "05406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No "
    "Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found50"
    "0 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Ju"
    "n Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/"
    "html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,tex"
    "t/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-"
    ",*,enq=0.";
