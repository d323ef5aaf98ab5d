/** A world of units with 32-bit keys, for the set-signature tests: a set's signature is [n, Σk, Σk²]. */
export const keys = Array.from({ length: 400 }, (_, i) => BigInt((i * 2_654_435_761) % 4_294_967_291));

export const sig = (members: number[]): [number, string, string] => [
  members.length,
  members.reduce((a, i) => a + keys[i]!, 0n).toString(),
  members.reduce((a, i) => a + keys[i]! * keys[i]!, 0n).toString(),
];

export const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
