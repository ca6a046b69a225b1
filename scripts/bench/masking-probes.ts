// Hand-written probes, outside the generator's formats on purpose: realistic spellings the corpus does not
// produce, each with the kind a careful reader would mask (or null for a hard negative). The benchmark
// reports them apart from the corpus table; misses here are known limits, listed in docs/BENCHMARKS.md.
import type { EntityKind } from "../../src/relay/masking/index.ts";

export const PROBES: Array<[text: string, kind: EntityKind | null, value: string]> = [
  ["appelez-moi au 06 12 34 56 78 demain", "phone", "06 12 34 56 78"],
  ["call 4155552671 asap", "phone", "4155552671"],
  ["tel.: +49 (0)30 901820", "phone", "+49 (0)30 901820"],
  ["Mobile:+91 98765 43210", "phone", "+91 98765 43210"],
  ["Mail: JOHN.OBRIEN@EXAMPLE.IE", "email", "JOHN.OBRIEN@EXAMPLE.IE"],
  ["write to user@sub.domain.example.travel", "email", "user@sub.domain.example.travel"],
  ["jane at example dot com", "email", "jane at example dot com"],
  ["Visa ending 4242 4242 4242 4242 declined", "credit_card", "4242 4242 4242 4242"],
  ["card no 5555-5555-5555-4444 exp 12/27", "credit_card", "5555-5555-5555-4444"],
  ["IBAN: fr76 3000 6000 0112 3456 7890 189", "iban", "fr76 3000 6000 0112 3456 7890 189"],
  ["Konto DE44500105175407324931", "iban", "DE44500105175407324931"],
  ["IP: 192.168.1.10, gw 10.0.0.1", "ipv4", "192.168.1.10"],
  ["ssh from fe80::1ff:fe23:4567:890a%eth2 port 22", "ipv6", "fe80::1ff:fe23:4567:890a%eth2"],
  ["from 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "ipv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
  ["token: eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."],
  ["AWS secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
  ["Authorization: Basic dXNlcjpwYXNzd29yZA==", "secret", "dXNlcjpwYXNzd29yZA=="],
  ["x-api-key=AbCdEf0123456789GhIjKlMnOp", "secret", "AbCdEf0123456789GhIjKlMnOp"],
  ["my password is hunter2", "secret", "hunter2"],
  ["api key 3f786850e387550fdab836ed7e6dc881", "secret", "3f786850e387550fdab836ed7e6dc881"],
  ["ssn 123456789 on file", "national_id", "123456789"],
  ["NINO QQ123456C", "national_id", "QQ123456C"],
  ["CPF 12345678909", "national_id", "12345678909"],
  ["Build 2.0.0.1 deployed", null, "2.0.0.1"],
  ["error at Foo::Bar::baz line 12", null, "Foo::Bar::baz"],
  ["hash dead::beef seen", null, "dead::beef"],
  ["2026-12-07 10:30:45,123 INFO done", null, "2026-12-07 10:30:45,123"],
  ["pid 4155552671 exited", null, "4155552671"],
  ["ISBN 978-0-306-40615-7", null, "978-0-306-40615-7"],
  ["Tracking 1Z999AA10123456784", null, "1Z999AA10123456784"],
];
