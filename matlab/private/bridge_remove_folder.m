function bridge_remove_folder(folder)
%BRIDGE_REMOVE_FOLDER  Remove a call's temporary folder (kept when BRIDGE_KEEP_TEMP is set).
% The onCleanup action; BRIDGE_KEEP_TEMP keeps the files for debugging.
keep = getenv('BRIDGE_KEEP_TEMP');
if ~isempty(keep) && ~strcmp(keep, '0')
  fprintf(2, 'bridge: kept the temporary folder %s (BRIDGE_KEEP_TEMP is set)\n', folder);
  return
end
if exist('OCTAVE_VERSION', 'builtin') ~= 0
  % Octave asks before a recursive rmdir, and nobody is there to answer.
  confirm_recursive_rmdir(false, 'local');
end
[ok, msg] = rmdir(folder, 's'); %#ok<ASGLU> a cleanup must not raise
end
