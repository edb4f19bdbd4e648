/**
 * Makes the demo's voice clips with eSpeak NG and SoX (`sudo apt-get install -y espeak-ng sox`):
 * `npx tsx demo/voice/generate.ts`. The clips are committed, so the demo itself needs neither.
 * Each is 16 kHz mono PCM16 WAV with the silence around the speech trimmed and its peak at -3 dBFS.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answerClip, CLIP_RATE, CONVERSATION, questionClip } from './lines';

const DIR = dirname(fileURLToPath(import.meta.url));
/** Two voices: the user, and the agent. */
const USER_VOICE = 'en-gb+m3';
const AGENT_VOICE = 'en-us+f3';
const WORDS_PER_MINUTE = '175';
/** Trim leading and trailing audio under 0.3% of full scale (SoX `silence` at both ends). */
const TRIM = ['silence', '1', '0.02', '0.3%', 'reverse', 'silence', '1', '0.02', '0.3%', 'reverse'];
/** Peak at -3 dBFS: espeak-ng speaks quietly. */
const LOUDNESS = ['gain', '-n', '-3'];

function clip(text: string, voice: string, file: string): number {
  const wav = execFileSync('espeak-ng', ['-v', voice, '-s', WORDS_PER_MINUTE, '--stdout', text]);
  const path = join(DIR, file);
  execFileSync('sox', ['-t', 'wav', '-', '-r', String(CLIP_RATE), '-c', '1', '-b', '16', '-e', 'signed-integer', path, ...TRIM, ...LOUDNESS], { input: wav });
  return statSync(path).size;
}

let bytes = 0;
CONVERSATION.forEach(({ question, answer }, i) => {
  bytes += clip(question, USER_VOICE, questionClip(i));
  answer.forEach((sentence, s) => (bytes += clip(sentence, AGENT_VOICE, answerClip(i, s))));
});
console.log(`${(bytes / 1024).toFixed(0)} KB of clips in ${DIR}`);
