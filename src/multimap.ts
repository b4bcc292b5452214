// Maps of sets (user -> connections, room -> members): a set is made on its first value and
// dropped with its last, so an index holds no empty entries.

export function addTo<K, V> (map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key)
  if (set === undefined) map.set(key, set = new Set())
  set.add(value)
}

export function removeFrom<K, V> (map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}
