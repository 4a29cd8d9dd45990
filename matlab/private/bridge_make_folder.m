function folder = bridge_make_folder(caller, place)
%BRIDGE_MAKE_FOLDER  A new private temporary folder in PLACE for one call's files (bridge:tempFolder).
% One new folder per call, never a fixed name in a shared folder: several MATLAB processes or parfor
% workers may call at once. mkdir also "succeeds" on an existing folder, so insist on a new one.
msg = 'it exists already';
for attempt = 1:5
  folder = tempname(place);
  if ~exist(folder, 'dir')
    [ok, msg] = mkdir(folder);
    if ok && isempty(msg)
      return
    end
  end
end
error('bridge:tempFolder', '%s', sprintf( ...
  '%s: cannot create the temporary folder %s (%s). Check that %s exists and is writable.', ...
  caller, folder, msg, place));
end
