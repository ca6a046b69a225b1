// Valid (and, on request, invalid) national ids for the synthetic masking corpus, check digits computed.
import { verhoeffValid } from "../../src/relay/masking/checksums.ts";
import type { Gen } from "./masking-generators.ts";

const DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE";
const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/** National ids with their check digits: US SSN, French NIR, Spanish DNI/NIE, Italian CF, Brazilian CPF, Aadhaar. */
export function nationalId(g: Gen, valid = true): string {
  const off = valid ? 0 : 1;
  switch (g.int(0, 5)) {
    case 0:
      if (!valid) return `${g.int(900, 999)}-${g.digits(2)}-${g.digits(4)}`;
      return (
        `${g.int(1, 665)}`.padStart(3, "0") +
        `-${String(g.int(1, 99)).padStart(2, "0")}-${String(g.int(1, 9999)).padStart(4, "0")}`
      );
    case 1: {
      const body = `${g.int(1, 2)}${g.digits(2)}${String(g.int(1, 12)).padStart(2, "0")}${String(g.int(1, 95)).padStart(2, "0")}${g.digits(6)}`;
      const key = String(97 - Number(BigInt(body) % 97n) + off).padStart(2, "0");
      const nir = body + key;
      return g.rand() < 0.5
        ? nir
        : `${nir[0]} ${nir.slice(1, 3)} ${nir.slice(3, 5)} ${nir.slice(5, 7)} ${nir.slice(7, 10)} ${nir.slice(10, 13)} ${nir.slice(13)}`;
    }
    case 2: {
      const nie = g.rand() < 0.3;
      const lead = nie ? g.int(0, 2) : g.int(0, 9);
      const num = `${lead}${g.digits(7)}`;
      const letter = DNI_LETTERS[(Number(num) + off) % 23];
      return `${nie ? "XYZ"[lead] : lead}${num.slice(1)}${letter}`;
    }
    case 3: {
      const cons = "BCDFGHLMNPRSTVZ";
      const body = `${g.chars(cons, 6)}${g.digits(2)}${g.pick([..."ABCDEHLMPRST"])}${String(g.int(1, 71)).padStart(2, "0")}${g.pick([..."ADFGHLM"])}${g.digits(3)}`;
      let sum = 0;
      for (let i = 0; i < 15; i++) {
        const c = body.charCodeAt(i);
        const idx = c <= 57 ? c - 48 : c - 65;
        sum += i % 2 === 0 ? (CF_ODD[idx] ?? 0) : idx;
      }
      return body + String.fromCharCode(65 + ((sum + off) % 26));
    }
    case 4: {
      let d = g.digits(9);
      for (const len of [9, 10]) {
        let sum = 0;
        for (let i = 0; i < len; i++) sum += Number(d[i]) * (len + 1 - i);
        d += String(((((sum * 10) % 11) % 10) + (len === 10 ? off : 0)) % 10);
      }
      return `${d.slice(0, 3)}.${d.slice(3, 6)}.${d.slice(6, 9)}-${d.slice(9)}`;
    }
    default: {
      const body = `${g.int(2, 9)}${g.digits(10)}`;
      let check = 0;
      while (verhoeffValid(body + check) !== valid) check++;
      const a = body + check;
      return `${a.slice(0, 4)} ${a.slice(4, 8)} ${a.slice(8)}`;
    }
  }
}
