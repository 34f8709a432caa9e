//! Cairn's own URL parser: absolute `http:`/`https:` URLs in one plain shape, and the
//! `application/x-www-form-urlencoded` query format. Cairn compares FHIR bases, issuers and
//! redirect URIs as exact strings, so this parser does not repair input the way browsers do
//! (WHATWG): it accepts
//!
//! `scheme://host[:port][/path][?query][#fragment]`
//!
//! and refuses everything else. Refused: other schemes, user information (`user@`), a
//! backslash anywhere, whitespace, control and non-ASCII characters, an empty host, a host that
//! is not ASCII letters, digits, `-` and `.` in non-empty labels, numeric hosts
//! other than a plain dotted quad (`127.1`, `0x7f.0.0.1`, `017.0.0.1`), IPv6 literals other than
//! `[::1]`, an empty port, a port with leading zeros, port 0 or above 65535, `.` and `..` path
//! segments (also spelled `%2e`), a `%` not followed by two hex digits, path characters
//! outside RFC 3986's set (`|`, `^`, `[`, …), and query or fragment characters browsers would
//! percent-encode (`"`, `<`, `>`, `'` in a query).
//!
//! Two things are normalised, as browsers and the `url` crate do, so that origins compare as
//! before: the scheme and host are lowercased (`HTTPS://EHR.Example` is `https://ehr.example`),
//! and a default port is dropped (`https://h:443/` is `https://h/`). An empty path is `/`.
//! Lowercasing rather than refusing keeps every configuration that was accepted before, and
//! every comparison is made on the lowercased form, as the browser's own addresses are.
//! Whatever this parser accepts, the `url` crate serialises the same way (tested below against
//! it as an oracle), so the two agree on every URL Cairn handles. One exception: a punycode
//! label (`xn--…`, an internationalised name written in ASCII) is taken as its text, without
//! decoding it. Browsers check such a label but never rewrite it, so they either read the same
//! host or refuse the URL (and then no request goes anywhere).
//!
//! Pure functions that never panic on input.

/// The input is not a URL this module accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadUri;

/// An absolute `http:` or `https:` URL in the shape the module documentation describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// The serialisation: lowercase scheme and host, no default port, path at least `/`.
    text: String,
    /// `text[..scheme_end]` is the scheme.
    scheme_end: usize,
    /// `text[host_start..host_end]` is the host; a port, if any, follows up to `path_start`.
    host_start: usize,
    host_end: usize,
    path_start: usize,
    /// Index of `?`, when there is a query.
    query_start: Option<usize>,
    /// Index of `#`, when there is a fragment.
    fragment_start: Option<usize>,
}

impl Uri {
    /// Parses `input`, or refuses it (see the module documentation).
    pub fn parse(input: &str) -> Result<Uri, BadUri> {
        let (scheme, rest) = split_scheme(input).ok_or(BadUri)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(BadUri),
        };
        let rest = rest.strip_prefix("//").ok_or(BadUri)?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (host, port) = match authority.strip_prefix('[') {
            // The only IPv6 literal accepted: loopback, in its canonical spelling.
            Some(after) => match after.strip_prefix("::1]") {
                Some(port) => ("[::1]".to_owned(), port),
                None => return Err(BadUri),
            },
            None => {
                let end = authority.find(':').unwrap_or(authority.len());
                let (host, port) = authority.split_at(end);
                (parse_host(host)?, port)
            }
        };
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => None,
            None => return Err(BadUri),
            Some(digits) => Some(parse_port(digits)?).filter(|&p| p != default_port),
        };
        let (path_and_query, fragment) = match tail.split_once('#') {
            Some((before, fragment)) => (before, Some(fragment)),
            None => (tail, None),
        };
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let path = if path.is_empty() { "/" } else { path };
        if !valid_path(path)
            || !query.is_none_or(|q| valid_chars(q, in_query))
            || !fragment.is_none_or(|f| valid_chars(f, in_fragment))
        {
            return Err(BadUri);
        }
        let mut text = String::with_capacity(input.len() + 1);
        text.push_str(&scheme);
        text.push_str("://");
        let host_start = text.len();
        text.push_str(&host);
        let host_end = text.len();
        if let Some(port) = port {
            text.push(':');
            text.push_str(&port.to_string());
        }
        let path_start = text.len();
        text.push_str(path);
        let query_start = query.map(|q| {
            let at = text.len();
            text.push('?');
            text.push_str(q);
            at
        });
        let fragment_start = fragment.map(|f| {
            let at = text.len();
            text.push('#');
            text.push_str(f);
            at
        });
        Ok(Uri {
            scheme_end: scheme.len(),
            text,
            host_start,
            host_end,
            path_start,
            query_start,
            fragment_start,
        })
    }

    /// The whole URL, as serialised.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.text[..self.scheme_end]
    }

    /// The lowercase host name, dotted quad, or `[::1]`.
    pub fn host(&self) -> &str {
        &self.text[self.host_start..self.host_end]
    }

    /// `scheme://host[:port]`, as browsers serialise an origin (no default port).
    pub fn origin(&self) -> &str {
        &self.text[..self.path_start]
    }

    /// The path: starts with `/`.
    pub fn path(&self) -> &str {
        let end = self
            .query_start
            .or(self.fragment_start)
            .unwrap_or(self.text.len());
        &self.text[self.path_start..end]
    }

    /// The query without its `?`.
    pub fn query(&self) -> Option<&str> {
        let end = self.fragment_start.unwrap_or(self.text.len());
        self.query_start.map(|start| &self.text[start + 1..end])
    }

    /// The fragment without its `#`.
    pub fn fragment(&self) -> Option<&str> {
        self.fragment_start.map(|start| &self.text[start + 1..])
    }

    /// The URL without its fragment.
    pub fn without_fragment(&self) -> &str {
        &self.text[..self.fragment_start.unwrap_or(self.text.len())]
    }

    /// The query's name/value pairs, decoded as a form ([`parse_form`]).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_form(self.query().unwrap_or(""))
    }

    /// `reference` resolved against this URL (RFC 3986 §5.2, with its `.` and `..` segments
    /// removed), then parsed as [`Uri::parse`] does: an absolute URL of another scheme, or a
    /// reference with a backslash, whitespace or a non-ASCII character, is refused.
    pub fn join(&self, reference: &str) -> Result<Uri, BadUri> {
        if !reference.bytes().all(|b| b.is_ascii_graphic()) || reference.contains('\\') {
            return Err(BadUri);
        }
        if split_scheme(reference).is_some() {
            return Uri::parse(reference);
        }
        if reference.starts_with("//") {
            return Uri::parse(&format!("{}:{reference}", self.scheme()));
        }
        let path_end = reference.find(['?', '#']).unwrap_or(reference.len());
        let (path, rest) = reference.split_at(path_end);
        let joined = if path.is_empty() {
            let kept = if rest.starts_with('?') {
                &self.text[..self
                    .query_start
                    .or(self.fragment_start)
                    .unwrap_or(self.text.len())]
            } else {
                self.without_fragment()
            };
            format!("{kept}{rest}")
        } else {
            let merged = if path.starts_with('/') {
                path.to_owned()
            } else {
                let base = self.path();
                let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
                format!("{dir}{path}")
            };
            format!("{}{}{rest}", self.origin(), remove_dot_segments(&merged))
        };
        Uri::parse(&joined)
    }
}

impl std::fmt::Display for Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// True when `reference` starts with a scheme other than `http` and `https` (`javascript:`,
/// `data:`): an address, but none Cairn goes to.
pub fn names_other_scheme(reference: &str) -> bool {
    split_scheme(reference).is_some_and(|(scheme, _)| {
        !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
    })
}

/// `(scheme, rest)` when `s` starts with an RFC 3986 scheme and `:`.
pub fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    (first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.'))
        .then_some((scheme, rest))
}

/// A host name or dotted quad, lowercased; refuses anything a browser would reinterpret.
fn parse_host(host: &str) -> Result<String, BadUri> {
    let host = host.to_ascii_lowercase();
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !labels_ok {
        return Err(BadUri);
    }
    // Browsers read a host whose last label is a number (`1`, `0x1f`) as an IPv4 address, in
    // many spellings: only the plain dotted quad is accepted.
    let last = host.rsplit('.').next().unwrap_or("");
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        let octets: Vec<&str> = host.split('.').collect();
        let canonical = octets.len() == 4
            && octets.iter().all(|o| {
                o.len() <= 3
                    && o.bytes().all(|b| b.is_ascii_digit())
                    && (o.len() == 1 || !o.starts_with('0'))
                    && o.parse::<u16>().is_ok_and(|n| n <= 255)
            });
        if !canonical {
            return Err(BadUri);
        }
    }
    Ok(host)
}

/// 1 to 65535, in decimal without leading zeros.
fn parse_port(digits: &str) -> Result<u16, BadUri> {
    let plain = !digits.is_empty()
        && digits.len() <= 5
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    match digits.parse::<u16>() {
        Ok(port) if plain => Ok(port),
        _ => Err(BadUri),
    }
}

/// RFC 3986 path characters, and no `.` or `..` segment (however spelled).
fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && valid_chars(path, |b| {
            b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
        })
        && path.split('/').all(|segment| {
            let dots = segment.to_ascii_lowercase().replace("%2e", ".");
            dots != "." && dots != ".."
        })
}

/// Printable ASCII a browser leaves as it is in a query (not `"`, `#`, `<`, `>`, `'`), and
/// no backslash.
fn in_query(b: u8) -> bool {
    b.is_ascii_graphic() && !b"\"#<>'\\".contains(&b)
}

/// Printable ASCII a browser leaves as it is in a fragment, and no backslash or second `#`.
fn in_fragment(b: u8) -> bool {
    b.is_ascii_graphic() && !b"\"#<>`\\".contains(&b)
}

/// Every byte passes `allowed`, and every `%` starts a two-hex-digit escape.
fn valid_chars(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        allowed(b)
            && (b != b'%'
                || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)))
    })
}

/// RFC 3986 §5.2.4 for an absolute path: `.` segments dropped, `..` removes the one before
/// (never above the root).
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

/// `application/x-www-form-urlencoded` pairs, as browsers encode a form: letters, digits and
/// `*-._` as they are, space as `+`, every other byte of the UTF-8 as `%XX`.
pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        form_encode_into(&mut out, name);
        out.push('=');
        form_encode_into(&mut out, value);
    }
    out
}

/// One form-encoded value, as [`form`] writes each name and value (RFC 6749 §2.3.1 encodes a
/// client id and secret this way before HTTP Basic).
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    form_encode_into(&mut out, s);
    out
}

fn form_encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

/// The pairs of a form-encoded query (no leading `?`), as browsers decode one: split at `&`
/// (empty pieces skipped), then at the first `=`; `+` is a space; `%XX` is a byte, and a `%`
/// not followed by two hex digits stays as it is; bytes that are not UTF-8 become U+FFFD.
pub fn parse_form(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|&h| char::from(h).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                // Two hex digits: at most 0xff.
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepted inputs and their serialisation.
    const ACCEPTED: &[(&str, &str)] = &[
        ("https://ehr.example/fhir", "https://ehr.example/fhir"),
        ("https://ehr.example", "https://ehr.example/"),
        ("https://ehr.example?a=1", "https://ehr.example/?a=1"),
        ("https://ehr.example#top", "https://ehr.example/#top"),
        ("http://localhost:8080/", "http://localhost:8080/"),
        ("http://127.0.0.1:9/x?y#z", "http://127.0.0.1:9/x?y#z"),
        ("http://[::1]:3000/cb", "http://[::1]:3000/cb"),
        ("http://[::1]/", "http://[::1]/"),
        // Case-insensitive parts are lowercased; the path keeps its case.
        (
            "HTTPS://EHR.Example/API/FHIR/R4",
            "https://ehr.example/API/FHIR/R4",
        ),
        // Default ports are dropped, as browsers serialise them.
        ("https://ehr.example:443/fhir", "https://ehr.example/fhir"),
        ("http://localhost:80/", "http://localhost/"),
        ("http://ehr.example:443/", "http://ehr.example:443/"),
        ("https://ehr.example:65535/", "https://ehr.example:65535/"),
        ("https://a-b.c1.example/", "https://a-b.c1.example/"),
        (
            "https://xn--bcher-kva.example/",
            "https://xn--bcher-kva.example/",
        ),
        ("https://10.0.0.255/", "https://10.0.0.255/"),
        ("https://0.0.0.0/", "https://0.0.0.0/"),
        ("https://1.example/", "https://1.example/"),
        ("https://e/a//b/", "https://e/a//b/"),
        (
            "https://e/a%20b/%2F/~!$&'()*+,;=:@",
            "https://e/a%20b/%2F/~!$&'()*+,;=:@",
        ),
        ("https://e/.well-known/x", "https://e/.well-known/x"),
        ("https://e/a/...", "https://e/a/..."),
        (
            "https://e/Observation?code=http://loinc.org|8867-4&_count=2&x[]={^}`",
            "https://e/Observation?code=http://loinc.org|8867-4&_count=2&x[]={^}`",
        ),
        ("https://e/?a?b/c", "https://e/?a?b/c"),
        ("https://e/p?#", "https://e/p?#"),
        ("https://e/#a?b/'{}", "https://e/#a?b/'{}"),
    ];

    /// Refused inputs: nothing here becomes a URL Cairn compares or sends anything to.
    const REFUSED: &[&str] = &[
        "",
        "ehr.example/fhir",
        "/relative",
        "//ehr.example/",
        "ftp://ehr.example/",
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "https:ehr.example",
        "https:/ehr.example",
        "https:///ehr.example",
        "https://",
        "https:// ehr.example/",
        " https://ehr.example/",
        "https://ehr.example/ ",
        "https://ehr.example/a b",
        "https://ehr.example/\ta",
        "https://ehr.example/\n",
        "https://ehr.exa\u{0}mple/",
        "https://ehr.example/\u{7f}",
        // User information, in every spelling.
        "https://user@ehr.example/",
        "https://user:pw@ehr.example/",
        "https://@ehr.example/",
        "https://ehr.example@evil.example/",
        "https://ehr.example:443@evil.example/",
        "https://ehr.example%40evil.example/",
        // Backslashes, which browsers read as `/`.
        "https:\\\\ehr.example/",
        "https://evil.example\\@ehr.example/",
        "https://ehr.example\\fhir",
        "https://ehr.example/a\\b",
        // Hosts.
        "https://ehr.example%2e/",
        "https://ehr%2Eexample/",
        "https://ëhr.example/",
        "https://ehr.exаmple/",
        "https://[0:0:0:0:0:0:0:1]/",
        "https://[::1/",
        "https://[::1]x/",
        "https://127.1/",
        "https://2130706433/",
        "https://0x7f.0.0.1/",
        "https://0x7f000001/",
        "https://017.0.0.1/",
        "https://127.0.0.1.1/",
        "https://256.0.0.1/",
        "https://1.2.3/",
        "https://ehr.1/",
        "https://ehr.0x/",
        "https://ehr.0x1f/",
        // Ports.
        "https://ehr.example:/",
        "https://ehr.example:0443/",
        "https://ehr.example:65536/",
        "https://ehr.example:99999999999999999999/",
        "https://ehr.example:+443/",
        "https://ehr.example:44a/",
        "https://ehr.example:1:2/",
        // Dot segments, however spelled.
        "https://ehr.example/fhir/../admin",
        "https://ehr.example/fhir/..",
        "https://ehr.example/./fhir",
        "https://ehr.example/fhir/%2e%2e/admin",
        "https://ehr.example/fhir/.%2E/admin",
        "https://ehr.example/fhir/%2E/",
        // Characters browsers would encode or reinterpret.
        "https://ehr.example/a\"b",
        "https://ehr.example/a<b>",
        "https://ehr.example/a{b}",
        "https://ehr.example/a`b",
        "https://ehr.example/é",
        "https://ehr.example/?q=é",
        "https://ehr.example/?q='",
        "https://ehr.example/?q=\"",
        "https://ehr.example/?q=<",
        "https://ehr.example/#`",
        // Broken escapes.
    ];

    /// Refused, though browsers (and the `url` crate) read them unchanged: hosts and ports
    /// no real server uses, characters RFC 3986 does not allow there, broken escapes, and a
    /// backslash anywhere.
    const STRICTER: &[&str] = &[
        "https://ehr.example/?a=\\",
        "https://ehr.example/#\\",
        "https://ehr.example./",
        "https://.ehr.example/",
        "https://ehr..example/",
        "https://ehr_example/",
        "https://[::2]/",
        "https://ehr.example:0/",
        "https://ehr.example/a|b",
        "https://ehr.example/a^b",
        "https://ehr.example/a[b]",
        "https://ehr.example/#a#b",
        "https://ehr.example/%",
        "https://ehr.example/%4",
        "https://ehr.example/%zz",
        "https://ehr.example/?a=%g0",
        "https://ehr.example/#%",
    ];

    #[test]
    fn accepts_the_plain_shape_and_serialises_it() {
        for (input, want) in ACCEPTED {
            let uri = Uri::parse(input).unwrap_or_else(|_| panic!("refused {input:?}"));
            assert_eq!(uri.as_str(), *want, "{input}");
            assert_eq!(uri.to_string(), *want, "{input}");
            // The serialisation is a fixed point.
            assert_eq!(Uri::parse(want).as_ref(), Ok(&uri), "{want}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for input in REFUSED.iter().chain(STRICTER) {
            assert_eq!(Uri::parse(input), Err(BadUri), "{input:?}");
        }
    }

    #[test]
    fn parts() {
        let uri = Uri::parse("HTTPS://Ehr.Example:8443/fhir/R4?a=1&b=%20#frag?x").unwrap();
        assert_eq!(uri.scheme(), "https");
        assert_eq!(uri.host(), "ehr.example");
        assert_eq!(uri.origin(), "https://ehr.example:8443");
        assert_eq!(uri.path(), "/fhir/R4");
        assert_eq!(uri.query(), Some("a=1&b=%20"));
        assert_eq!(uri.fragment(), Some("frag?x"));
        assert_eq!(
            uri.without_fragment(),
            "https://ehr.example:8443/fhir/R4?a=1&b=%20"
        );
        let bare = Uri::parse("http://[::1]").unwrap();
        assert_eq!(
            (bare.host(), bare.origin(), bare.path()),
            ("[::1]", "http://[::1]", "/")
        );
        assert_eq!((bare.query(), bare.fragment()), (None, None));
        let empty = Uri::parse("https://e/?#").unwrap();
        assert_eq!((empty.query(), empty.fragment()), (Some(""), Some("")));
    }

    #[test]
    fn resolves_references_as_rfc_3986_says() {
        let base = Uri::parse("https://ehr.example/fhir/R4/Observation?page=1#f").unwrap();
        for (reference, want) in [
            ("", Some("https://ehr.example/fhir/R4/Observation?page=1")),
            (
                "?page=2",
                Some("https://ehr.example/fhir/R4/Observation?page=2"),
            ),
            (
                "#g",
                Some("https://ehr.example/fhir/R4/Observation?page=1#g"),
            ),
            ("Patient", Some("https://ehr.example/fhir/R4/Patient")),
            (
                "Patient?x=1#y",
                Some("https://ehr.example/fhir/R4/Patient?x=1#y"),
            ),
            ("./Patient", Some("https://ehr.example/fhir/R4/Patient")),
            (
                "../../oauth2/token",
                Some("https://ehr.example/oauth2/token"),
            ),
            ("../../../../../../x", Some("https://ehr.example/x")),
            ("..", Some("https://ehr.example/fhir/")),
            (".", Some("https://ehr.example/fhir/R4/")),
            ("/a/./b/../c", Some("https://ehr.example/a/c")),
            ("/", Some("https://ehr.example/")),
            ("//login.example/t", Some("https://login.example/t")),
            ("https://login.example/t", Some("https://login.example/t")),
            ("HTTP://LOCALHOST:80/t", Some("http://localhost/t")),
            // Refused: other schemes, a dot segment left encoded, hostile characters.
            ("javascript:alert(1)", None),
            ("ftp://ehr.example/", None),
            ("//user@evil.example/", None),
            ("///evil.example/", None),
            ("\\\\evil.example/", None),
            ("/\\evil.example/", None),
            ("%2e%2e/admin", None),
            ("a b", None),
            (" /x", None),
            ("/x\n", None),
            ("/é", None),
            ("a|b", None),
        ] {
            assert_eq!(
                base.join(reference).ok().as_ref().map(Uri::as_str),
                want,
                "{reference:?}"
            );
        }
        // An empty first segment in the base's path is kept (only one `/` is the root).
        let double = Uri::parse("https://ehr.example//fhir/R4").unwrap();
        assert_eq!(
            double.join("Patient").unwrap().as_str(),
            "https://ehr.example//fhir/Patient"
        );
        // The directory of a base ending in `/` is the base itself.
        let dir = Uri::parse("https://ehr.example/fhir/").unwrap();
        assert_eq!(
            dir.join("token").unwrap().as_str(),
            "https://ehr.example/fhir/token"
        );
    }

    /// Near-URLs: seeds from the tables with characters overwritten, inserted or removed,
    /// drawn from those that matter to URL parsers.
    fn mutations(count: usize) -> Vec<String> {
        const PALETTE: &[char] = &[
            ':', '/', '\\', '@', '.', '%', '?', '#', '[', ']', ' ', '\t', '\n', '\0', '+', '&',
            '=', 'A', 'x', 'e', '0', '1', '2', 'F', '-', '_', '~', '\'', '"', '|', 'é', '\u{ff0e}',
        ];
        let seeds: Vec<&str> = ACCEPTED
            .iter()
            .map(|(input, _)| *input)
            .chain(REFUSED.iter().copied())
            .chain(STRICTER.iter().copied())
            .collect();
        let mut rng = crate::testing::SplitMix(0x5eed_0412);
        (0..count)
            .map(|_| {
                let mut chars: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
                for _ in 0..=rng.below(4) {
                    let at = rng.below(chars.len() + 1);
                    let c = PALETTE[rng.below(PALETTE.len())];
                    match rng.below(3) {
                        0 if at < chars.len() => chars[at] = c,
                        1 if at < chars.len() => {
                            chars.remove(at);
                        }
                        _ => chars.insert(at, c),
                    }
                }
                chars.into_iter().collect()
            })
            .collect()
    }

    #[test]
    fn mutated_inputs_never_panic_and_parse_to_fixed_points() {
        let base = Uri::parse("https://ehr.example/fhir/R4/Observation?page=1").unwrap();
        for input in mutations(20_000) {
            if let Ok(uri) = Uri::parse(&input) {
                assert_eq!(Uri::parse(uri.as_str()).as_ref(), Ok(&uri), "{input:?}");
                assert!(!uri.as_str().contains(['\\', ' ']), "{input:?}");
                assert!(!uri.host().contains('@'), "{input:?}");
            }
            if let Ok(joined) = base.join(&input) {
                assert_eq!(
                    Uri::parse(joined.as_str()).as_ref(),
                    Ok(&joined),
                    "{input:?}"
                );
            }
            let _ = parse_form(&input);
            let _ = names_other_scheme(&input);
        }
    }

    #[test]
    fn other_schemes_are_named() {
        for (reference, other) in [
            ("javascript:alert(1)", true),
            ("JavaScript:alert(1)", true),
            ("data:text/html,x", true),
            ("urn:oid:1.2", true),
            ("https://e/", false),
            ("HTTP://e/", false),
            ("Observation?page=2", false),
            ("/a:b", false),
            ("1a:b", false),
            ("", false),
        ] {
            assert_eq!(names_other_scheme(reference), other, "{reference:?}");
        }
    }

    #[test]
    fn form_encoding_round_trips() {
        let pairs = [
            ("redirect_uri", "https://app.example/cb?x=1&y=2"),
            ("scope", "launch openid patient/*.rs"),
            ("state", "a+b/c=d%e"),
            ("name", "O'Brien é 漢"),
            ("", ""),
            ("safe", "AZaz09*-._"),
        ];
        let encoded = form(pairs);
        assert_eq!(
            encoded,
            "redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1%26y%3D2\
             &scope=launch+openid+patient%2F*.rs&state=a%2Bb%2Fc%3Dd%25e\
             &name=O%27Brien+%C3%A9+%E6%BC%A2&=&safe=AZaz09*-._"
        );
        let decoded = parse_form(&encoded);
        let want: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(decoded, want);
    }

    #[test]
    fn form_decoding_is_forgiving_and_never_panics() {
        let pairs = |q: &str| parse_form(q);
        let owned = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect::<Vec<_>>()
        };
        for (query, want) in [
            ("", owned(&[])),
            ("&&", owned(&[])),
            ("a", owned(&[("a", "")])),
            ("a=", owned(&[("a", "")])),
            ("=b", owned(&[("", "b")])),
            ("a=b=c", owned(&[("a", "b=c")])),
            ("a+b=c+d", owned(&[("a b", "c d")])),
            ("a=%2B%20", owned(&[("a", "+ ")])),
            ("a=%", owned(&[("a", "%")])),
            ("a=%4", owned(&[("a", "%4")])),
            ("a=%zz%41", owned(&[("a", "%zzA")])),
            ("a=%ff", owned(&[("a", "\u{fffd}")])),
            ("a=%C3%A9&a=2", owned(&[("a", "é"), ("a", "2")])),
            ("é=ü", owned(&[("é", "ü")])),
        ] {
            assert_eq!(pairs(query), want, "{query:?}");
        }
    }

    /// The `url` crate (WHATWG) as an oracle: whatever this parser accepts, `url` parses to
    /// the same serialisation, origin, host, path, query and fragment; every input of
    /// `REFUSED` is one `url` refuses or would rewrite (so an exact comparison of the text
    /// could be fooled), and every input of `STRICTER` one it keeps as it is.
    #[cfg(not(target_arch = "wasm32"))]
    mod oracle {
        use super::*;

        #[test]
        fn accepted_urls_mean_the_same_to_the_url_crate() {
            let extra = [
                "https://ehr.example/fhir/R4/Patient?identifier=urn:oid:1.2|123&_count=200",
                "https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4",
                "https://login.example:8443/oauth2/authorize?aud=x%2Fy#z",
            ];
            let inputs = ACCEPTED.iter().map(|(input, _)| *input).chain(extra);
            for input in inputs {
                let ours = Uri::parse(input).unwrap();
                let theirs = url::Url::parse(input).unwrap();
                assert_eq!(ours.as_str(), theirs.as_str(), "{input}");
                assert_eq!(
                    ours.origin(),
                    theirs.origin().ascii_serialization(),
                    "{input}"
                );
                assert_eq!(Some(ours.host()), theirs.host_str(), "{input}");
                assert_eq!(ours.path(), theirs.path(), "{input}");
                assert_eq!(ours.query(), theirs.query(), "{input}");
                assert_eq!(ours.fragment(), theirs.fragment(), "{input}");
                assert!(theirs.username().is_empty() && theirs.password().is_none());
                let pairs: Vec<(String, String)> = theirs
                    .query_pairs()
                    .map(|(a, b)| (a.into_owned(), b.into_owned()))
                    .collect();
                assert_eq!(ours.query_pairs(), pairs, "{input}");
            }
        }

        #[test]
        fn refused_urls_are_ones_the_url_crate_refuses_or_rewrites() {
            let mut unexplained = Vec::new();
            for input in REFUSED {
                let Ok(theirs) = url::Url::parse(input) else {
                    continue;
                };
                let lowered = input.to_ascii_lowercase();
                let rewritten = theirs.as_str() != *input && theirs.as_str() != lowered;
                let foreign = !matches!(theirs.scheme(), "http" | "https");
                let userinfo = !theirs.username().is_empty() || theirs.password().is_some();
                if !(rewritten || foreign || userinfo) {
                    unexplained.push(format!("{input:?} (url: {:?})", theirs.as_str()));
                }
            }
            assert!(
                unexplained.is_empty(),
                "refused, but url reads them unchanged (move them to STRICTER): {unexplained:#?}"
            );
            // STRICTER lists only what browsers would read unchanged.
            for input in STRICTER {
                let theirs = url::Url::parse(input).map(|u| u.as_str().to_owned());
                assert_eq!(theirs.as_deref(), Ok(*input), "{input:?}");
            }
        }

        #[test]
        fn mutated_inputs_agree_with_the_url_crate() {
            let base = "https://ehr.example/fhir/R4/Observation?page=1";
            let (ours, theirs) = (Uri::parse(base).unwrap(), url::Url::parse(base).unwrap());
            let mut accepted = 0;
            for input in mutations(20_000) {
                // Punycode is not decoded here: `url` may refuse a label (never rewrite it).
                let agrees = |ours: &Uri, theirs: Result<url::Url, url::ParseError>| match theirs {
                    Ok(url) => url.as_str() == ours.as_str(),
                    Err(url::ParseError::IdnaError) => ours.host().contains("xn--"),
                    Err(_) => false,
                };
                if let Ok(uri) = Uri::parse(&input) {
                    accepted += 1;
                    assert!(agrees(&uri, url::Url::parse(&input)), "{input:?}");
                }
                if let Ok(joined) = ours.join(&input) {
                    assert!(agrees(&joined, theirs.join(&input)), "join {input:?}");
                }
                let pairs: Vec<(String, String)> = url::form_urlencoded::parse(input.as_bytes())
                    .map(|(a, b)| (a.into_owned(), b.into_owned()))
                    .collect();
                assert_eq!(parse_form(&input), pairs, "{input:?}");
            }
            // The mutations reach both sides of the parser.
            assert!(accepted > 500 && accepted < 15_000, "{accepted} accepted");
        }

        #[test]
        fn joins_agree_with_the_url_crate() {
            let base = "https://ehr.example/fhir/R4/Observation?page=1#f";
            let references = [
                "",
                "?page=2",
                "#g",
                "Patient",
                "Patient?x=1#y",
                "./Patient",
                "../../oauth2/token",
                "../../../../../../x",
                "..",
                ".",
                "/a/./b/../c",
                "/",
                "//login.example/t",
                "https://login.example/t",
                "HTTP://LOCALHOST:80/t",
            ];
            let ours = Uri::parse(base).unwrap();
            let theirs = url::Url::parse(base).unwrap();
            for reference in references {
                assert_eq!(
                    ours.join(reference).unwrap().as_str(),
                    theirs.join(reference).unwrap().as_str(),
                    "{reference:?}"
                );
            }
        }

        #[test]
        fn form_encoding_agrees_with_form_urlencoded() {
            let values = [
                "",
                "plain",
                "a b+c&d=e",
                "https://app.example/cb?x=1#y",
                "O'Brien é 漢 \u{0} \u{7f} ~!*()",
                "%41%zz%",
            ];
            for value in values {
                let theirs = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(value, value)
                    .finish();
                assert_eq!(form([(value, value)]), theirs, "{value:?}");
                let parsed: Vec<(String, String)> = url::form_urlencoded::parse(value.as_bytes())
                    .map(|(a, b)| (a.into_owned(), b.into_owned()))
                    .collect();
                assert_eq!(parse_form(value), parsed, "{value:?}");
            }
        }
    }
}
