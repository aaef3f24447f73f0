/**
 * Topic filter matching (MQTT 3.1.1 section 4.7). Filters and names reaching here were already
 * checked by the codec: wildcards only in filters, `#` last and alone in its level, `+` alone in
 * its level [MQTT-4.7.1-1..3].
 */

/**
 * Whether `topic` matches `filter`: `+` stands for exactly one level (an empty one too), `#` for
 * any number of levels including none, so `a/#` also matches `a` (section 4.7.1.2). A filter that
 * starts with a wildcard does not match a topic that starts with `$` [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
