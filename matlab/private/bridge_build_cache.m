function folder = bridge_build_cache()
%BRIDGE_BUILD_CACHE  Where the compiled clients are built: never inside the installation.
%   The environment variable BRIDGE_BUILD_CACHE, else getpref('bridge', 'buildcache'), else
%   $XDG_CACHE_HOME/bridge, else ~/.cache/bridge.
folder = getenv('BRIDGE_BUILD_CACHE');
if isempty(folder) && ispref('bridge', 'buildcache')
  folder = char(getpref('bridge', 'buildcache'));
end
if isempty(folder)
  base = getenv('XDG_CACHE_HOME');
  if isempty(base) || ~strncmp(base, '/', 1)
    base = fullfile(getenv('HOME'), '.cache');
  end
  folder = fullfile(base, 'bridge');
end
end
