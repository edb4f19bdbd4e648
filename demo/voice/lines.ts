/**
 * What the demo's voice agent hears and says. The user's questions and each sentence of the agent's
 * spoken replies are clips in this directory, made by `generate.ts`: the speech-to-text endpoint
 * recognises a question by its audio, the chat endpoint answers it with the reply's sentences, and
 * the text-to-speech endpoint speaks each sentence with its clip.
 */
export interface Exchange {
  question: string;
  /** The reply, sentence by sentence: a voice agent sends each sentence to speech as soon as it is complete. */
  answer: string[];
}

export const CONVERSATION: Exchange[] = [
  { question: "What's the weather in Lisbon tomorrow?", answer: ['Sunny, about twenty two degrees.', 'Light wind after lunch.'] },
  { question: 'Set a timer for ten minutes.', answer: ['Done.', 'Ten minutes, starting now.'] },
  { question: 'How far away is the moon?', answer: ['About three hundred eighty thousand kilometers.', 'Light takes just over a second.'] },
  { question: 'Tell me something surprising.', answer: ['Octopuses have three hearts.', 'And their blood is blue.'] },
];

/** Sample rate of every clip: 16 kHz mono PCM16, as speech-to-text services take it. */
export const CLIP_RATE = 16_000;

/** File names of the clips, relative to this directory. */
export const questionClip = (i: number): string => `q${i + 1}.wav`;
export const answerClip = (i: number, sentence: number): string => `a${i + 1}-${sentence + 1}.wav`;
