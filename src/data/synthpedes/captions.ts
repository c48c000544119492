/**
 * CUHK-PEDES-style captions from SynthPedes attributes, written the way different annotators
 * write them: synonyms, varied order, relative clauses and omissions. Every caption names the
 * upper garment and the lower garment with their colours, and every colour word in a caption
 * stands directly before the item it colours (possibly after a modifier such as "short-sleeved"),
 * so captions can be checked against the attributes.
 */
import type { PersonAttributes } from './attributes';
import type { SynthRng } from './rng';

/** Probabilities with which a caption mentions each optional attribute (when the person has it). */
export const CAPTION_MENTION = { hair: 0.6, shoes: 0.5, bag: 0.85, hat: 0.8, figure: 0.25 } as const;

const UPPER_NOUNS: Readonly<Record<PersonAttributes['upper']['type'], readonly string[]>> = {
  't-shirt': ['t-shirt', 't-shirt', 'tee', 'short-sleeved top', 'short-sleeved shirt'],
  shirt: ['shirt', 'shirt', 'long-sleeved shirt', 'button-up shirt', 'top'],
  jacket: ['jacket', 'jacket', 'open jacket', 'zip-up jacket'],
  coat: ['coat', 'long coat', 'overcoat', 'knee-length coat'],
  dress: ['dress', 'dress', 'sleeveless dress', 'knee-length dress'],
  sweater: ['sweater', 'sweater', 'jumper', 'pullover', 'long-sleeved top'],
};
const LOWER_NOUNS: Readonly<Record<PersonAttributes['lower']['type'], readonly string[]>> = {
  trousers: ['trousers', 'pants', 'slacks', 'long pants'],
  jeans: ['jeans', 'jeans', 'denim jeans'],
  shorts: ['shorts', 'shorts', 'short pants'],
  skirt: ['skirt', 'skirt', 'short skirt'],
  leggings: ['leggings', 'tights'],
};
const PLURAL_LOWER = new Set(['trousers', 'jeans', 'shorts', 'leggings']);
const SUBJECTS = {
  woman: ['woman', 'woman', 'lady', 'girl', 'young woman', 'female'],
  man: ['man', 'man', 'guy', 'male', 'young man', 'gentleman'],
} as const;
const FIGURE_WORDS = {
  slim: ['slim', 'thin', 'slender'],
  broad: ['broad-shouldered', 'stocky', 'heavy-set'],
} as const;

/** A colour word, with the occasional American spelling. */
function colorWord(rng: SynthRng, color: string): string {
  if (color === 'grey' && rng.chance(0.4)) return 'gray';
  if (color === 'blond' && rng.chance(0.4)) return 'blonde';
  return color;
}

const article = (phrase: string) => (/^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`);

/** Noun phrases for one person, drawn fresh for each caption. */
function phrases(a: PersonAttributes, rng: SynthRng) {
  const upper = article(`${colorWord(rng, a.upper.color)} ${rng.pick(UPPER_NOUNS[a.upper.type])}`);
  const lowerNoun = rng.pick(LOWER_NOUNS[a.lower.type]);
  const lowerBare = `${colorWord(rng, a.lower.color)} ${lowerNoun}`;
  const plural = PLURAL_LOWER.has(a.lower.type) || lowerNoun.endsWith('pants');
  const lower = plural ? (rng.chance(0.2) ? `a pair of ${lowerBare}` : lowerBare) : article(lowerBare);
  const lengthWord =
    a.hairLength === 'short'
      ? rng.pick(['short', 'short', 'cropped'])
      : a.hairLength === 'medium'
        ? rng.pick(['medium-length', 'shoulder-length', 'chin-length'])
        : rng.pick(['long', 'long', 'long flowing']);
  const hair = `${lengthWord} ${colorWord(rng, a.hairColor)} hair`;
  const shoes = `${colorWord(rng, a.shoes.color)} ${rng.pick(['shoes', 'shoes', 'sneakers', 'trainers'])}`;
  const bag = a.bag
    ? article(
        `${colorWord(rng, a.bag.color)} ${a.bag.type === 'backpack' ? rng.pick(['backpack', 'backpack', 'rucksack']) : rng.pick(['handbag', 'shoulder bag', 'bag'])}`,
      )
    : null;
  const hat = a.hat ? article(`${colorWord(rng, a.hat.color)} ${rng.pick(['cap', 'baseball cap', 'hat'])}`) : null;
  return { upper, lower, hair, shoes, bag, hat };
}

type Fact = 'hair' | 'shoes' | 'bag' | 'hat';

/**
 * One caption for a person: a first sentence naming who it is and the upper and lower garments,
 * then the optional attributes the "annotator" chose to mention, in a random order, as further
 * sentences, relative clauses or "with" phrases.
 */
export function writeCaption(a: PersonAttributes, rng: SynthRng): string {
  const p = phrases(a, rng);
  const she = a.gender === 'woman';
  const P = she ? 'she' : 'he';
  const poss = she ? 'her' : 'his';

  const facts: Fact[] = [];
  if (rng.chance(CAPTION_MENTION.hair)) facts.push('hair');
  if (rng.chance(CAPTION_MENTION.shoes)) facts.push('shoes');
  if (a.bag && rng.chance(CAPTION_MENTION.bag)) facts.push('bag');
  if (a.hat && rng.chance(CAPTION_MENTION.hat)) facts.push('hat');
  const order = rng.shuffle(facts);

  const vp = (f: Fact): string => {
    switch (f) {
      case 'hair':
        return `${rng.pick(['has', 'has', 'has got'])} ${p.hair}`;
      case 'shoes':
        return `${rng.pick(['wears', 'is wearing', 'has on'])} ${p.shoes}`;
      case 'hat':
        return rng.chance(0.5) ? `wears ${p.hat}` : `has ${p.hat} on ${poss} head`;
      case 'bag':
        if (a.bag?.type === 'backpack')
          return rng.pick([
            `carries ${p.bag}`,
            `is carrying ${p.bag}`,
            `has ${p.bag} on ${poss} back`,
            `is wearing ${p.bag}`,
          ]);
        return rng.pick([
          `carries ${p.bag}`,
          `is carrying ${p.bag}`,
          `has ${p.bag} over ${poss} shoulder`,
          `holds ${p.bag}`,
        ]);
    }
  };
  const withPhrase = (f: Fact): string => {
    switch (f) {
      case 'hair':
        return p.hair;
      case 'shoes':
        return p.shoes;
      case 'hat':
        return p.hat as string;
      case 'bag':
        return p.bag as string;
    }
  };

  // the subject: determiner, optional figure adjective, noun, optional "with ..." attachment
  let noun: string = rng.pick(SUBJECTS[a.gender]);
  if (rng.chance(CAPTION_MENTION.figure)) noun = `${rng.pick(FIGURE_WORDS[a.figure])} ${noun}`;
  const det = rng.pick(['a', 'a', 'the', 'this']);
  let subject = det === 'a' ? article(noun) : `${det} ${noun}`;
  if (order.length > 0 && rng.chance(0.35)) subject += ` with ${withPhrase(order.shift() as Fact)}`;
  let relative = '';
  if (order.length > 0 && rng.chance(0.25)) relative = `, who ${vp(order.shift() as Fact)},`;

  const { upper, lower } = p;
  const upperFirst = rng.chance(0.75);
  const [g1, g2] = upperFirst ? [upper, lower] : [lower, upper];
  const joiner = upperFirst && a.upper.type !== 'dress' && rng.chance(0.2) ? 'over' : rng.pick(['and', 'and', 'with']);
  const sentences: string[] = [];
  const pattern = rng.int(0, relative ? 2 : 5);
  if (pattern === 0) sentences.push(`${subject}${relative} is wearing ${g1} ${joiner} ${g2}`);
  else if (pattern === 1) sentences.push(`${subject}${relative} wears ${g1} ${joiner} ${g2}`);
  else if (pattern === 2) sentences.push(`${subject}${relative} is dressed in ${g1} ${joiner} ${g2}`);
  else if (pattern === 3) sentences.push(`${subject} wearing ${g1} ${joiner} ${g2}`);
  else if (pattern === 4) sentences.push(`${subject} in ${g1} and ${g2} is walking`);
  else sentences.push(`${subject} who is wearing ${g1} is also wearing ${g2}`);

  // a trailing "with ..." on the first sentence, then the rest in one or two sentences
  if (order.length > 0 && joiner !== 'with' && rng.chance(0.25)) {
    sentences[0] += `, with ${withPhrase(order.shift() as Fact)}`;
  }
  while (order.length > 0) {
    const take = Math.min(order.length, rng.int(1, 2));
    const parts = order.splice(0, take).map(vp);
    sentences.push(`${P} ${parts.join(' and ')}`);
  }
  if (rng.chance(0.15))
    sentences.push(
      `${P} ${rng.pick(['is walking forward', 'seems to be walking', 'is standing still', 'looks ahead'])}`,
    );
  return sentences.map((t) => `${t.charAt(0).toUpperCase()}${t.slice(1)}.`).join(' ');
}
