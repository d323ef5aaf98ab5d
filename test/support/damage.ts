import fs from 'node:fs';

/** One character of a file changed, as a failing disk or a careless edit would (issue 32, item 3). */
export function flipCharacter(file: string, at = 10): void {
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1), { mode: 0o600 });
}
