//! Kubernetes' CEL libraries as palisade compiles them, against the semantics the Kubernetes
//! documentation gives (https://kubernetes.io/docs/reference/using-api/cel/ and the godoc of
//! k8s.io/apiserver/pkg/cel/library): one table per library. Each row is an expression that must
//! evaluate to `true`, or one that must fail (an error, as the API server reports it).

use palisade_policy_engine::cel_lib;
use palisade_policy_engine::cel_policy::Expr;

enum Want {
    True,
    Error,
}
use Want::{Error, True};

fn eval(src: &str) -> Result<cel::Value, String> {
    let expr = Expr::compile(src)?;
    let ctx = cel::Context::with_env(cel_lib::env());
    expr.program.execute(&ctx).map_err(|e| e.to_string())
}

fn check(library: &str, table: &[(&str, Want)]) {
    let mut failures = Vec::new();
    for (src, want) in table {
        let got = eval(src);
        let ok = match want {
            True => matches!(got, Ok(cel::Value::Bool(true))),
            Error => got.is_err(),
        };
        if !ok {
            failures.push(format!("  {src}  =>  {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{library}: {} of {} rows differ from Kubernetes:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn quantity() {
    check(
        "quantity",
        &[
            ("isQuantity('1.3G')", True),
            ("isQuantity('1.3Gi')", True),
            ("isQuantity('10000k')", True),
            ("isQuantity('500m')", True),
            ("isQuantity('1e3')", True),
            ("!isQuantity('1,3G')", True),
            ("!isQuantity('200K')", True),
            ("!isQuantity('Three')", True),
            ("!isQuantity('Mi')", True),
            ("!isQuantity('')", True),
            ("quantity('Three')", Error),
            (
                "quantity('50k').add(quantity('20k')).compareTo(quantity('70k')) == 0",
                True,
            ),
            (
                "quantity('50k').add(20).compareTo(quantity('50020')) == 0",
                True,
            ),
            (
                "quantity('50k').sub(quantity('20k')).compareTo(quantity('30k')) == 0",
                True,
            ),
            (
                "quantity('50k').sub(20).compareTo(quantity('49980')) == 0",
                True,
            ),
            ("quantity('200M').compareTo(quantity('0.2G')) == 0", True),
            ("quantity('50M').compareTo(quantity('50Mi')) == -1", True),
            ("quantity('1Gi').compareTo(quantity('1G')) == 1", True),
            ("quantity('50k').isInteger()", True),
            ("quantity('50k').asInteger() == 50000", True),
            ("quantity('1Ki').asInteger() == 1024", True),
            ("!quantity('1.5').isInteger()", True),
            ("!quantity('500m').isInteger()", True),
            ("quantity('500m').asInteger()", Error),
            (
                "!quantity('9999999999999999999999999999999999999G').isInteger()",
                True,
            ),
            (
                "quantity('9999999999999999999999999999999999999G').asInteger()",
                Error,
            ),
            ("quantity('50.703k').asApproximateFloat() == 50703.0", True),
            (
                "quantity('9999999999999999999999999999999999999G').asApproximateFloat() > 9.9e45",
                True,
            ),
            (
                "quantity('9999999999999999999999999999999999999G').isGreaterThan(quantity('8E'))",
                True,
            ),
            ("quantity('500m').asApproximateFloat() == 0.5", True),
            ("quantity('-50k').sign() == -1", True),
            ("quantity('0').sign() == 0", True),
            ("quantity('50k').sign() == 1", True),
            ("quantity('1Gi').isGreaterThan(quantity('512Mi'))", True),
            ("quantity('512Mi').isLessThan(quantity('1Gi'))", True),
            ("!quantity('1k').isLessThan(quantity('1000'))", True),
        ],
    );
}

#[test]
fn ip() {
    check(
        "ip",
        &[
            ("isIP('127.0.0.1')", True),
            ("isIP('::1')", True),
            ("isIP('2001:db8::abc')", True),
            ("!isIP('127.0.0.256')", True),
            ("!isIP('127.0.0.1/24')", True),
            // Kubernetes refuses IPv4-mapped IPv6 addresses and zones.
            ("!isIP('::ffff:1.2.3.4')", True),
            ("!isIP('fe80::1%eth0')", True),
            ("ip('::ffff:1.2.3.4')", Error),
            ("ip('not an ip')", Error),
            ("ip('127.0.0.1').family() == 4", True),
            ("ip('::1').family() == 6", True),
            ("ip.isCanonical('127.0.0.1')", True),
            ("ip.isCanonical('2001:db8::abc')", True),
            ("!ip.isCanonical('2001:DB8::ABC')", True),
            ("!ip.isCanonical('2001:db8:0:0:0:0:0:abc')", True),
            ("ip('127.0.0.1').isLoopback()", True),
            ("ip('::1').isLoopback()", True),
            ("!ip('192.168.0.1').isLoopback()", True),
            ("ip('0.0.0.0').isUnspecified()", True),
            ("ip('::').isUnspecified()", True),
            ("!ip('127.0.0.1').isUnspecified()", True),
            ("ip('224.0.0.1').isLinkLocalMulticast()", True),
            ("ip('ff02::1').isLinkLocalMulticast()", True),
            ("!ip('224.0.1.1').isLinkLocalMulticast()", True),
            ("ip('169.254.169.254').isLinkLocalUnicast()", True),
            ("ip('fe80::1').isLinkLocalUnicast()", True),
            ("!ip('192.168.0.1').isLinkLocalUnicast()", True),
            ("ip('192.168.0.1').isGlobalUnicast()", True),
            ("ip('2001:db8::abc').isGlobalUnicast()", True),
            ("!ip('255.255.255.255').isGlobalUnicast()", True),
            ("!ip('127.0.0.1').isGlobalUnicast()", True),
            ("string(ip('127.0.0.1')) == '127.0.0.1'", True),
        ],
    );
}

#[test]
fn cidr() {
    check(
        "cidr",
        &[
            ("isCIDR('192.168.0.0/24')", True),
            ("isCIDR('::1/128')", True),
            ("!isCIDR('192.168.0.0')", True),
            ("!isCIDR('192.168.0.0/33')", True),
            ("!isCIDR('::1/129')", True),
            ("cidr('192.168.0.0/33')", Error),
            ("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))", True),
            ("cidr('192.168.0.0/24').containsIP('192.168.0.1')", True),
            ("!cidr('192.168.0.0/24').containsIP('192.168.1.1')", True),
            (
                "cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.0/25'))",
                True,
            ),
            (
                "cidr('192.168.0.0/24').containsCIDR('192.168.0.128/25')",
                True,
            ),
            (
                "!cidr('192.168.0.0/24').containsCIDR('192.168.0.0/23')",
                True,
            ),
            (
                "cidr('192.168.0.0/24').containsCIDR('192.168.0.0/24')",
                True,
            ),
            ("cidr('192.168.0.0/24').prefixLength() == 24", True),
            ("cidr('::1/128').prefixLength() == 128", True),
            (
                "string(cidr('192.168.0.1/24').masked()) == '192.168.0.0/24'",
                True,
            ),
            (
                "string(cidr('192.168.0.0/24').masked()) == '192.168.0.0/24'",
                True,
            ),
            ("string(cidr('192.168.0.1/24').ip()) == '192.168.0.1'", True),
            ("cidr('192.168.0.0/24').ip().family() == 4", True),
            ("cidr('::1/128').ip().family() == 6", True),
            ("string(cidr('192.168.0.0/24')) == '192.168.0.0/24'", True),
        ],
    );
}

#[test]
fn semver() {
    check(
        "semver",
        &[
            ("isSemver('1.0.0')", True),
            ("isSemver('1.0.0-alpha.1+build.5')", True),
            ("!isSemver('v1.0.0')", True),
            ("!isSemver('1.0')", True),
            ("!isSemver('01.0.0')", True),
            // With normalization: a leading v, missing minor or patch, leading zeros.
            ("isSemver('v1.0', true)", True),
            (
                "semver('v01.01', true).compareTo(semver('1.1.0')) == 0",
                True,
            ),
            ("semver('1.0')", Error),
            ("semver('1.2.3').major() == 1", True),
            ("semver('1.2.3').minor() == 2", True),
            ("semver('1.2.3').patch() == 3", True),
            ("semver('1.2.3').isLessThan(semver('1.2.4'))", True),
            ("semver('1.10.0').isGreaterThan(semver('1.9.0'))", True),
            ("semver('1.0.0-alpha').isLessThan(semver('1.0.0'))", True),
            (
                "semver('1.0.0-alpha').isLessThan(semver('1.0.0-alpha.1'))",
                True,
            ),
            ("semver('1.2.3').compareTo(semver('2.0.0')) == -1", True),
            ("semver('2.0.0').compareTo(semver('1.2.3')) == 1", True),
            (
                "semver('1.2.3+build').compareTo(semver('1.2.3')) == 0",
                True,
            ),
        ],
    );
}

#[test]
fn url() {
    check(
        "url",
        &[
            ("isURL('https://example.com')", True),
            ("isURL('/absolute-path')", True),
            ("!isURL('example.com')", True),
            ("!isURL('../relative-path')", True),
            ("url('example.com')", Error),
            (
                "url('https://example.com:80/path?query=val#fragment').getScheme() == 'https'",
                True,
            ),
            ("url('https://example.com:80/').getHost() == 'example.com:80'", True),
            ("url('https://example.com:80/').getHostname() == 'example.com'", True),
            ("url('https://example.com:80/').getPort() == '80'", True),
            ("url('https://example.com/').getPort() == ''", True),
            ("url('https://[::1]:80/').getHost() == '[::1]:80'", True),
            ("url('https://[::1]:80/').getHostname() == '::1'", True),
            ("url('https://[::1]/').getHost() == '[::1]'", True),
            ("url('/absolute-path').getScheme() == ''", True),
            ("url('/absolute-path').getHost() == ''", True),
            ("url('https://example.com/path').getEscapedPath() == '/path'", True),
            (
                "url('https://example.com/path with spaces/').getEscapedPath() == '/path%20with%20spaces/'",
                True,
            ),
            ("url('https://example.com').getEscapedPath() == ''", True),
            ("url('https://example.com/a%2Fb').getEscapedPath() == '/a%2Fb'", True),
            ("url('https://example.com/%aé')", Error),
            ("url('https://exa mple.com/')", Error),
            (
                "url('https://example.com/path?k1=a&k2=b&k2=c').getQuery() == {'k1': ['a'], 'k2': ['b', 'c']}",
                True,
            ),
            ("url('https://example.com/').getQuery() == {}", True),
        ],
    );
}

#[test]
fn regex() {
    check(
        "regex",
        &[
            ("'abc 123'.find('[0-9]+') == '123'", True),
            ("'abc 123'.find('xyz') == ''", True),
            ("'123 abc 456'.findAll('[0-9]+') == ['123', '456']", True),
            ("'123 abc 456'.findAll('[0-9]+', 1) == ['123']", True),
            ("'123 abc 456'.findAll('[0-9]+', 0) == []", True),
            ("'123 abc 456'.findAll('xyz') == []", True),
            ("'abc'.find('[')", Error),
            (
                "'registry.example.com/ml/iris:1.0'.matches('^registry\\\\.example\\\\.com/')",
                True,
            ),
        ],
    );
}

#[test]
fn lists() {
    check(
        "lists",
        &[
            ("[1, 2, 3].isSorted()", True),
            ("['a', 'b', 'b', 'c'].isSorted()", True),
            ("![2.0, 1.0].isSorted()", True),
            ("[].isSorted()", True),
            ("[1, 2, 3].sum() == 6", True),
            ("[1.0, 2.0, 3.5].sum() == 6.5", True),
            ("[1, 2, 3].min() == 1", True),
            ("[1, 2, 3].max() == 3", True),
            ("['b', 'a', 'c'].min() == 'a'", True),
            ("[].min()", Error),
            ("[].max()", Error),
            ("[1, 2, 3, 2].indexOf(2) == 1", True),
            ("[1, 2, 3, 2].lastIndexOf(2) == 3", True),
            ("[1, 2].indexOf(5) == -1", True),
            ("[1, 2].lastIndexOf(5) == -1", True),
            ("['a', 'b', 'a'].indexOf('a') == 0", True),
        ],
    );
}

#[test]
fn sets() {
    check(
        "sets",
        &[
            ("sets.contains([], [])", True),
            ("!sets.contains([], [1])", True),
            ("sets.contains([1, 2, 3, 4], [2, 3])", True),
            ("sets.contains([1, 2, 3], [3, 2, 1])", True),
            ("sets.contains([[1], [2, 3]], [[2, 3]])", True),
            ("!sets.contains([1, 2], [2, 5])", True),
            ("sets.equivalent([], [])", True),
            ("sets.equivalent([1], [1, 1])", True),
            ("sets.equivalent([1, 2, 3], [3, 2, 1])", True),
            ("!sets.equivalent([2, 1], [1])", True),
            ("sets.intersects([1], [1, 2])", True),
            ("sets.intersects([[1], [2, 3]], [[1, 2], [2, 3]])", True),
            ("!sets.intersects([], [])", True),
            ("!sets.intersects([1], [])", True),
            ("!sets.intersects([1], [2])", True),
        ],
    );
}

#[test]
fn format() {
    check(
        "format",
        &[
            (
                "!format.dns1123Label().validate('my-name').hasValue()",
                True,
            ),
            ("format.dns1123Label().validate('My-Name').hasValue()", True),
            ("format.dns1123Label().validate('a.b').hasValue()", True),
            (
                "!format.dns1123Subdomain().validate('a.b.example').hasValue()",
                True,
            ),
            ("format.dns1123Subdomain().validate('-a').hasValue()", True),
            ("!format.dns1035Label().validate('abc').hasValue()", True),
            ("format.dns1035Label().validate('1abc').hasValue()", True),
            (
                "!format.qualifiedName().validate('example.com/name').hasValue()",
                True,
            ),
            ("format.qualifiedName().validate('-name').hasValue()", True),
            ("!format.labelValue().validate('').hasValue()", True),
            ("format.labelValue().validate('a b').hasValue()", True),
            (
                "!format.uuid().validate('9f86d081-884c-7d65-9a2f-eaa0c55ad015').hasValue()",
                True,
            ),
            ("format.uuid().validate('not-a-uuid').hasValue()", True),
            ("!format.date().validate('2024-02-29').hasValue()", True),
            ("format.date().validate('2024-02-30').hasValue()", True),
            (
                "!format.datetime().validate('2024-02-29T10:00:00Z').hasValue()",
                True,
            ),
            (
                "!format.named('dns1123Label').value().validate('ok').hasValue()",
                True,
            ),
            ("!format.named('no-such-format').hasValue()", True),
            (
                "format.dns1123Label().validate('My-Name').value().size() > 0",
                True,
            ),
        ],
    );
}

/// Optional values (cel-go's optional library as Kubernetes enables it), with Kyverno's lenient
/// `orValue` on a plain value; the values come back whole, owned or borrowed.
#[test]
fn optionals() {
    check(
        "optionals",
        &[
            ("{'a': [1, 2]}.?a.orValue([]) == [1, 2]", True),
            ("{'a': [1, 2]}.?b.orValue([3]) == [3]", True),
            ("optional.none().orValue({'k': 'v'}) == {'k': 'v'}", True),
            ("optional.of({'k': ['v']}).orValue({}).k[0] == 'v'", True),
            ("[1, 2].orValue([]) == [1, 2]", True),
            ("{'a': {'b': 'c'}}.?a.?b.orValue('') == 'c'", True),
            ("{'a': {'b': 'c'}}.?a.?x.orValue('d') == 'd'", True),
            ("[{'a': 1}, {}].map(m, m.?a.orValue(0)) == [1, 0]", True),
            ("{'a': 1}.?a.orValue()", Error),
        ],
    );
}
